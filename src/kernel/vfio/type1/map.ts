/**
 * VFIO_IOMMU_MAP_DMA (drivers/vfio/vfio_iommu_type1.c): vfio_iommu_type1_map_dma, vfio_dma_do_map,
 * vfio_iommu_iova_dma_valid, vfio_pin_map_dma, vfio_pin_pages_remote -> vaddr_get_pfns (pinning
 * with FOLL_LONGTERM semantics, follow_fault_pfn) and vfio_iommu_map.
 */
import type { Prot, StimulusOf } from '../../../vocab/records.js';
import { hex, isAligned, lowestBit, PAGE_SHIFT, wraps } from '../../../log/u64.js';
import { deviceOf, mmOf, vmaAt } from '../../../core/lookup.js';
import { initialState } from '../../../core/stepper.js';
import { type Outcome, Tx } from '../../../core/tx.js';
import { newId, type Container, type Domain, type IommuPte, type Mm, type PinExtent, type Process, type Type1, type VfioDma, type Vma } from '../../../core/world.js';
import { backAnon, mmGrab } from '../../mm/mm.js';
import { assertHeld } from '../../../core/locks.js';
import { lockOf } from '../../../vocab/locks.js';
import { dmaKey, findDma, linkDma, markPins, pgsizeBitmap } from './dma-tree.js';
import { dmaArg, MAP_FIELDS, MAP_FLAGS, MAP_MINSZ } from './args.js';
import { accountLockedVm, changeDmaOwner, vpfnPages } from './accounting.js';
import { barPagesMissing, barPagePresent } from '../../mm/mmap.js';

/** MAP_DMA's arguments after the checks made before iommu->lock (steps 2-4). */
export interface MapArg {
  readonly prot: Prot;
  readonly vaddrFlag: boolean;
  /** The 2016 RFC's MSI_RESERVED_IOVA: register the window, map nothing. */
  readonly msiReserved?: boolean;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

/**
 * vfio_iommu_type1_map_dma and vfio_dma_do_map steps 2-4, before mutex_lock(&iommu->lock). Since
 * v6.18 (VERSIONED_RULES 'type1-overflow') size 0 and a wrapping range are refused here, before
 * the prot check: `if (!size) return -EINVAL;` then `check_add_overflow(iova, size - 1, &iova_end)
 * || check_add_overflow(vaddr, size - 1, &vaddr_end)` -> -EOVERFLOW.
 */
export function mapValidate(tx: Tx, s: StimulusOf<'ioctl'>): MapArg {
  const a = dmaArg(s, MAP_FLAGS, MAP_FIELDS);
  const at = 'vfio_iommu_type1.c:vfio_dma_do_map';
  // 2. argsz < minsz, or a flag outside READ|WRITE|VADDR (upstream has no MSI_RESERVED_IOVA bit)
  if ((s.argsz ?? MAP_MINSZ) < MAP_MINSZ) tx.fail('EINVAL', 'vfio_iommu_type1.c:vfio_iommu_type1_map_dma: argsz < minsz');
  const msiReserved = a.flags.has('MSI_RESERVED_IOVA');
  if (msiReserved && !tx.policy.msiWindow.userReservedIova) tx.fail('EINVAL', 'vfio_iommu_type1.c:vfio_iommu_type1_map_dma: flags & ~(READ|WRITE|VADDR)');
  // 3. u64 fields fit size_t/unsigned long/dma_addr_t on a 64-bit kernel: nothing to check
  // (`map->size != size || ...`: -EINVAL before v6.18, -EOVERFLOW since). The RFC's window
  // (its vaddr ignored) goes through the same range checks as a mapping, here and in mapLink.
  if (tx.release.has('type1-overflow')) {
    if (a.size === 0n) tx.fail('EINVAL', `${at}: !size`);
    if (wraps(a.iova, a.size) || (!msiReserved && wraps(a.vaddr, a.size))) tx.fail('EOVERFLOW', `${at}: check_add_overflow(iova or vaddr, size - 1)`);
  }
  // the 2016 RFC (seed 004): vfio_register_msi_range: vaddr is ignored, no READ/WRITE needed
  if (msiReserved) return { prot: { read: false, write: false }, vaddrFlag: false, msiReserved: true, vaddr: 0n, iova: a.iova, size: a.size };
  // 4. prot from READ/WRITE; VADDR must come alone
  const prot: Prot = { read: a.flags.has('READ'), write: a.flags.has('WRITE') };
  const anyProt = prot.read || prot.write;
  const vaddrFlag = a.flags.has('VADDR');
  if ((anyProt && vaddrFlag) || (!anyProt && !vaddrFlag)) tx.fail('EINVAL', `${at}: (prot && VADDR) || (!prot && !VADDR)`);
  return { prot, vaddrFlag, vaddr: a.vaddr, iova: a.iova, size: a.size };
}

/**
 * vfio_dma_do_map steps 6-13, under iommu->lock: the checks, the VADDR update, and the new dma
 * linked with size 0. Returns the outcome when the call is over (VADDR, or no IOMMU domain),
 * else the dma to pin.
 */
export function mapLink(tx: Tx, p: Process, c: Container, a: MapArg): { done: Outcome } | { dma: VfioDma } {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_dma_do_map';
  // 6. alignment to the smallest IOMMU page size (and, before v6.18, !size)
  const pgsize = lowestBit(pgsizeBitmap(tx, t));
  if (tx.release.has('type1-overflow')) {
    if (!isAligned(a.size | a.iova | a.vaddr, pgsize)) tx.fail('EINVAL', `${at}: (size|iova|vaddr) & (pgsize-1)`);
  } else {
    if (a.size === 0n || !isAligned(a.size | a.iova | a.vaddr, pgsize)) tx.fail('EINVAL', `${at}: !size or (size|iova|vaddr) & (pgsize-1)`);
    // 7. before v6.18: "Don't allow IOVA or virtual address wrap"
    if (wraps(a.iova, a.size) || wraps(a.vaddr, a.size)) tx.fail('EINVAL', `${at}: iova + size - 1 < iova || vaddr + size - 1 < vaddr`);
  }
  // 8. overlap
  const hit = findDma(t, a.iova, a.size);
  if (a.vaddrFlag) {
    if (hit === undefined) tx.fail('ENOENT', `${at}: VADDR and no vfio_dma at iova`);
    if (!hit.vaddrInvalid || hit.iova !== a.iova || hit.size !== a.size) tx.fail('EINVAL', `${at}: VADDR: !dma->vaddr_invalid or iova/size differ`);
    changeDmaOwner(tx, c, p, hit);
    hit.vaddr = a.vaddr;
    hit.vaddrInvalid = false;
    t.vaddrInvalidCount -= 1;
    tx.fire('vfio_dma', dmaKey(c, hit), hit, 'UPDATE_VADDR');
    tx.emit('dma.vaddr_updated', { container: c.id, iova: hex(hit.iova), vaddr: hex(a.vaddr) });
    return { done: { ret: 0n, decidedBy: `${at}: VADDR update` } };
  }
  if (hit !== undefined) tx.fail('EEXIST', `${at}: vfio_find_dma: overlaps an existing mapping`);
  // 9. dma_entry_limit
  if (t.dmaAvail === 0) tx.fail('ENOSPC', `${at}: !iommu->dma_avail (dma_entry_limit)`);
  // 10. inside one valid IOVA window (an empty iova_list counts as valid)
  if (!iovaValid(t, a.iova, a.iova + a.size - 1n)) tx.fail('EINVAL', `${at}: vfio_iommu_iova_dma_valid: outside the aperture or in a reserved region`);
  // 11. kzalloc cannot fail in the model.
  // 12. the dma: task = group leader, mm = current->mm (mmgrab), linked with size 0
  const mm = mmOf(tx.world, p.mm);
  const dma: VfioDma = {
    id: newId(tx.world),
    iova: a.iova,
    size: 0n,
    vaddr: a.vaddr,
    prot: a.prot,
    state: initialState('vfio_dma'),
    lockCap: p.capIpcLock,
    task: p.pid,
    mm: mm.id,
    lockedVm: 0,
    vaddrInvalid: false,
    iommuMapped: false,
    extents: [],
    pfnList: new Map(),
  };
  t.dmaAvail -= 1;
  mmGrab(mm);
  assertHeld(tx, lockOf.iommu(c.id), `the dma tree of container ${c.id} (vfio_link_dma)`); // vfio_dma_do_map: vfio_link_dma after mutex_lock(&iommu->lock)
  linkDma(t, dma);
  tx.touched.containers.add(c.id);
  tx.touched.dmas.push({ container: c.id, iova: dma.iova, dma: dma.id });
  // The RFC's reserved MSI window (vfio_register_msi_range): recorded, nothing pinned or mapped;
  // the IOMMU driver allocates doorbell IOVAs in it when MSIs are set up.
  if (a.msiReserved === true) {
    dma.size = a.size;
    tx.fire('vfio_dma', dmaKey(c, dma), dma, 'PINNED');
    tx.emit('dma.msi_window', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) });
    return { done: { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_register_msi_range (2016 RFC)' } };
  }
  // 13. no domain (mdev-only container): record the range, pin nothing
  if (t.domain === null) {
    dma.size = a.size;
    tx.fire('vfio_dma', dmaKey(c, dma), dma, 'PINNED');
    tx.emit('dma.mapped', { container: c.id, iova: hex(dma.iova), size: hex(dma.size), vaddr: hex(dma.vaddr), pinned: false });
    return { done: { ret: 0n, decidedBy: `${at}: no IOMMU domain, nothing pinned` } };
  }
  return { dma };
}

/** The runs vfio_pin_pages_remote found for a dma, and the pages to charge. */
export interface PinnedRuns {
  readonly runs: PinExtent[];
  readonly charge: number;
}

/** vfio_iommu_iova_dma_valid: [start, end] inside a single vfio_iova node, or the list is empty. */
function iovaValid(t: Type1, start: bigint, end: bigint): boolean {
  if (t.domain === null || t.domain.iovaList.length === 0) return true;
  return t.domain.iovaList.some(([s, e]) => s <= start && end <= e);
}

/**
 * vfio_pin_pages_remote -> vaddr_get_pfns, under mmap_read_lock(mm): pin the RAM with
 * FOLL_LONGTERM semantics, follow PFNMAP BARs (faulting them in), and check RLIMIT_MEMLOCK.
 * Changes nothing but the faults it takes, so a failure leaves no pin.
 */
export function pinRuns(tx: Tx, p: Process, dma: VfioDma, mm: Mm, size: bigint): PinnedRuns {
  const at = 'vfio_iommu_type1.c:vaddr_get_pfns';
  const runs: PinExtent[] = [];
  let charge = 0;
  let off = 0n;
  while (off < size) {
    const vaddr = dma.vaddr + off;
    const vma = vmaAt(mm, vaddr);
    if (vma === undefined) tx.fail('EFAULT', `${at}: pin_user_pages_remote failed and no vma at ${hex(vaddr)}`);
    const len = vma.end - vaddr < size - off ? vma.end - vaddr : size - off;
    if (vma.kind === 'anon') {
      // pin_user_pages_remote(FOLL_LONGTERM | FOLL_WRITE if IOMMU_WRITE): GUP checks the vma's
      // permissions; a failure on a non-PFNMAP vma returns the GUP error.
      if (gupRefuses(dma, vma)) tx.fail('EFAULT', `${at}: pin_user_pages_remote: vma does not allow the access`);
      if (vma.phys === null) backAnon(tx, vma);
      runs.push({ iova: dma.iova + off, size: len, phys: vma.phys! + (vaddr - vma.start), kind: 'ram' });
      // vfio_pin_pages_remote: non-reserved pages are charged, less those already in pfn_list.
      charge += Number(len >> PAGE_SHIFT) - vpfnPages(dma, dma.iova + off, len);
    } else if (tx.policy.pfnmap.dmabuf) {
      // The BAR is imported as a dma-buf (drivers/vfio/pci/vfio_pci_dmabuf.c): mapping a revoked
      // buffer gives -ENODEV (vfio_pci_dma_buf_iommufd_map); nothing is faulted in.
      const d = deviceOf(tx.world, vma.device!);
      if (!d.memoryEnabled || d.revoked) tx.fail('ENODEV', 'vfio_pci_dmabuf.c:vfio_pci_dma_buf_iommufd_map: the dma-buf is revoked');
      const bar = d.bars.find((b) => b.index === vma.bar)!;
      runs.push({ iova: dma.iova + off, size: len, phys: bar.phys + vma.pgoff! + (vaddr - vma.start), kind: 'mmio', device: d.name, bar: bar.index });
    } else {
      const phys = followFaultPfn(tx, dma, vma, vaddr, len, (page) => tx.ops.faultBar(tx, p, vma, page));
      // is_invalid_reserved_pfn: MMIO has no struct page: not pinned, not charged.
      runs.push({ iova: dma.iova + off, size: len, phys, kind: 'mmio', device: vma.device!, bar: vma.bar! });
    }
    off += len;
  }
  // vfio_pin_pages_remote: limit is the *caller's* RLIMIT_MEMLOCK, unless the dma has lock_cap.
  const limit = Number(p.rlimitMemlock >> PAGE_SHIFT);
  if (!dma.lockCap && mm.lockedVm + charge > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded');
  return { runs, charge };
}

/**
 * vaddr_get_pfns: pin_user_pages_remote(FOLL_LONGTERM | (dma->prot & IOMMU_WRITE ? FOLL_WRITE :
 * 0)) refuses a vma that does not allow the access (check_vma_flags: -EFAULT). The prot is the
 * dma's, never a caller's.
 */
export function gupRefuses(dma: VfioDma, vma: Vma): boolean {
  return (dma.prot.write && !vma.prot.write) || !vma.prot.read;
}

/**
 * vaddr_get_pfns on a VM_PFNMAP vma (GUP refused it): follow_fault_pfn(vma, mm, vaddr, ...,
 * prot & IOMMU_WRITE) with prot = dma->prot. A missing PTE is faulted in by fixup_user_fault
 * (`fault`, vfio_pci_mmap_huge_fault); with memory decode off it gives VM_FAULT_SIGBUS ->
 * -EFAULT (CVE-2020-12888); `write_fault && !args.writable` -> -EFAULT. Then
 * is_invalid_reserved_pfn(*pfn) holds for a BAR (no struct page), so the pfn is returned (ret =
 * 1 page or more). Returns the BAR's physical address at vaddr.
 */
export function followFaultPfn(tx: Tx, dma: VfioDma, vma: Vma, vaddr: bigint, len: bigint, fault: (page: bigint) => boolean): bigint {
  const d = deviceOf(tx.world, vma.device!);
  // Each page without a PTE faults (before v6.12 the first fault populates the whole vma).
  for (const page of barPagesMissing(vma, vaddr, vaddr + len)) {
    if (!barPagePresent(vma, page) && !fault(page)) tx.fail('EFAULT', 'vfio_iommu_type1.c:follow_fault_pfn: fixup_user_fault: VM_FAULT_SIGBUS (memory disabled)');
  }
  if (dma.prot.write && !vma.prot.write) tx.fail('EFAULT', 'vfio_iommu_type1.c:follow_fault_pfn: write_fault && !args.writable');
  const bar = d.bars.find((b) => b.index === vma.bar)!;
  return bar.phys + vma.pgoff! + (vaddr - vma.start);
}

/** vfio_pin_pages_remote's vfio_lock_acct(dma, lock_acct, false): charge the pinned pages. */
export function chargePins(tx: Tx, mm: Mm, dma: VfioDma, pinned: PinnedRuns): void {
  if (pinned.charge > 0) accountLockedVm(tx, mm, dma, pinned.charge);
}

/**
 * vfio_iommu_map into the domain, then dma->size and iommu_mapped (vfio_pin_map_dma): the pins
 * become the dma's extents and PTE runs.
 */
export function mapRuns(tx: Tx, c: Container, dma: VfioDma, pinned: PinnedRuns, size: bigint): void {
  const domain = c.type1!.domain!;
  assertHeld(tx, lockOf.iommu(c.id), `vfio_dma ${dmaKey(c, dma)}'s mapping (vfio_iommu_map)`); // vfio_pin_map_dma runs under vfio_dma_do_map's (or vfio_iommu_replay's attach_group's) mutex_lock(&iommu->lock)
  for (const r of pinned.runs) {
    dma.extents.push(r);
    if (r.kind === 'ram') tx.emit('pages.pinned', { container: c.id, iova: hex(r.iova), npages: Number(r.size >> PAGE_SHIFT), phys: hex(r.phys) });
    insertPte(domain, { iova: r.iova, size: r.size, phys: r.phys, dma: dma.id });
    tx.touched.ptes.push({ container: c.id, iova: r.iova, size: r.size });
    // Schemes that track BAR mappings link this one to the BAR's device.
    if (r.kind === 'mmio' && tx.policy.pfnmap.linksBarMappings) {
      const d = deviceOf(tx.world, r.device!);
      if (!d.linked.some((l) => l.container === c.id && l.iova === dma.iova)) d.linked.push({ container: c.id, iova: dma.iova });
    }
    tx.emit('iommu.mapped', { container: c.id, iova: hex(r.iova), size: hex(r.size), phys: hex(r.phys), target: r.kind === 'ram' ? 'ram' : `${r.device}/bar${r.bar}` });
  }
  dma.size = size;
  dma.iommuMapped = true;
  markPins(tx, c, dma);
  tx.fire('vfio_dma', dmaKey(c, dma), dma, 'PINNED');
  tx.emit('dma.mapped', { container: c.id, iova: hex(dma.iova), size: hex(dma.size), vaddr: hex(dma.vaddr), pinned: true });
}

/** vfio_pin_map_dma in one go (vfio_iommu_replay at attach: no other task contends). */
export function pinMapDma(tx: Tx, p: Process, c: Container, dma: VfioDma, mm: Mm, size: bigint): void {
  const pinned = pinRuns(tx, p, dma, mm, size);
  chargePins(tx, mm, dma, pinned);
  mapRuns(tx, c, dma, pinned, size);
}

/** Inserts a PTE run into the domain. */
function insertPte(d: Domain, pte: IommuPte): void {
  d.ptes.set(pte.iova, pte);
}
