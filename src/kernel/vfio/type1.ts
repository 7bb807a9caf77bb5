/**
 * vfio_iommu_type1 (drivers/vfio/vfio_iommu_type1.c, the 2025 version: T1-2025 in
 * shared/kernel-reference.md, checked in docs/kernel-notes.md item 2).
 *
 * MAP_DMA, UNMAP_DMA, GET_INFO and CHECK_EXTENSION with their checks in the kernel's order,
 * pinning with FOLL_LONGTERM semantics and locked_vm accounting, group attach/detach with
 * reserved-region exclusion, and release. The model keeps one IOMMU domain per container
 * (docs/model.md says why).
 */
import type { JsonValue, Prot, StimulusOf } from '../../vocab/records.js';
import { hex, isAligned, lowestBit, PAGE_SHIFT, PAGE_SIZE, U64_MAX, wraps } from '../../log/u64.js';
import { deviceOf, mmOf, vmaAt } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { KernelOops, type Outcome, Tx } from '../../core/tx.js';
import { above, atOrBelow, iovaTree } from '../../core/iova-tree.js';
import { newId, type Container, type Domain, type Group, type IommuPte, type Mm, type PinExtent, type Process, type Type1, type VfioDma, type World } from '../../core/world.js';
import { backAnon, mmDrop, mmGrab } from '../mm/mm.js';
import { BadReference, ModelError } from '../../vocab/errors.js';
import { type LockUse, writeLock, lockOf } from '../../vocab/locks.js';

export const TYPE1_IOCTLS: ReadonlySet<string> = new Set(['VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA']);

/** Module parameter dma_entry_limit (default U16_MAX). */
export const DMA_ENTRY_LIMIT = 65535;

/** vfio_iommu_type1_open: v1 for VFIO_TYPE1_IOMMU, v2 for VFIO_TYPE1v2_IOMMU. */
export function open(v2: boolean): Type1 {
  return { v2, dmas: iovaTree(), dmaAvail: DMA_ENTRY_LIMIT, domain: null, emulatedGroups: [], deviceList: [], vaddrInvalidCount: 0 };
}

/** vfio_iommu_type1_check_extension; `c` is null when no driver is set (iommu == NULL). */
export function checkExtension(c: Container | null, ext: string): bigint {
  switch (ext) {
    case 'VFIO_TYPE1_IOMMU':
    case 'VFIO_TYPE1v2_IOMMU':
    case 'VFIO_UNMAP_ALL':
      return 1n;
    case 'VFIO_UPDATE_VADDR':
      return c?.type1 != null && c.type1.emulatedGroups.length === 0 ? 1n : 0n;
    case 'VFIO_DMA_CC_IOMMU':
      // vfio_domains_have_enforce_cache_coherency: the model's domains enforce coherency.
      return c?.type1 != null ? 1n : 0n;
    default:
      return 0n;
  }
}

// ---------------------------------------------------------------------------------------------
// The rb-tree of vfio_dma (vfio_find_dma, vfio_find_dma_first_node, vfio_link_dma).

/**
 * vfio_find_dma: any dma overlapping [start, start+size). The entries never overlap, so the one
 * with the greatest iova below the end is the only candidate. With size 0 it is a point probe
 * that hits when dma->iova < start < dma->iova + dma->size (the walk goes left on equality).
 */
export function findDma(t: Type1, start: bigint, size: bigint): VfioDma | undefined {
  const d = size === 0n ? atOrBelow(t.dmas, start - 1n) : atOrBelow(t.dmas, start + size - 1n);
  return d !== undefined && d.iova + d.size > start ? d : undefined;
}

/** vfio_find_dma_first_node: the lowest dma with iova + size > start. */
function firstNode(t: Type1, start: bigint): VfioDma | undefined {
  const d = atOrBelow(t.dmas, start);
  return d !== undefined && d.iova + d.size > start ? d : above(t.dmas, start);
}

/** vfio_link_dma: insert by iova (a size-0 dma sorts at its iova). */
function linkDma(t: Type1, dma: VfioDma): void {
  t.dmas.set(dma.iova, dma);
}

/** The dma that starts exactly at `iova`, whatever its size (also a size-0 dma being pinned). */
export function dmaAt(t: Type1, iova: bigint): VfioDma | undefined {
  return t.dmas.get(iova);
}

/** Tells the checks that a dma's pins, owner or domain changed (LockedVmConserved). */
export function markPins(tx: Tx, c: Container, dma: VfioDma): void {
  tx.touched.pinChanges.push({ container: c.id, iova: dma.iova, dma: dma.id });
}

/** The object key of a vfio_dma in `state` records: `<container>@<iova>`. */
export function dmaKey(c: Container, dma: VfioDma): string {
  return `${c.id}@${hex(dma.iova)}`;
}

/** pgsize_bitmap: PAGE_MASK with no domain; else the domain's, sub-page sizes hidden. */
export function pgsizeBitmap(tx: Tx, t: Type1): bigint {
  if (t.domain === null) return U64_MAX & ~(PAGE_SIZE - 1n);
  let b = tx.world.iommu.pgsizeBitmap;
  if ((b & (PAGE_SIZE - 1n)) !== 0n) b = (b & ~(PAGE_SIZE - 1n)) | PAGE_SIZE;
  return b;
}

// ---------------------------------------------------------------------------------------------
// ioctls

export function ioctl(tx: Tx, c: Container, s: StimulusOf<'ioctl'>): Outcome {
  switch (s.cmd) {
    case 'VFIO_IOMMU_MAP_DMA':
      throw new ModelError('MAP_DMA runs as the map_dma path (src/paths/map-dma.ts)');
    case 'VFIO_IOMMU_UNMAP_DMA':
      throw new ModelError('UNMAP_DMA runs as the unmap_dma path (src/paths/unmap-dma.ts)');
    case 'VFIO_IOMMU_GET_INFO':
      return getInfo(tx, c, s);
  }
  return tx.fail('ENOTTY', 'vfio_iommu_type1.c:vfio_iommu_type1_ioctl: unknown ioctl');
}

const MAP_FLAGS = ['READ', 'WRITE', 'VADDR', 'MSI_RESERVED_IOVA'] as const;
const UNMAP_FLAGS = ['GET_DIRTY_BITMAP', 'ALL', 'VADDR'] as const;

interface DmaArg {
  readonly flags: Set<string>;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

function u64Field(o: Record<string, unknown>, k: string): bigint {
  const v = o[k];
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) {
    const b = BigInt(v);
    if (b <= U64_MAX) return b;
  }
  throw new BadReference(`arg.${k}`, 'expected a u64 ("0x..." or a safe integer)');
}

function dmaArg(s: StimulusOf<'ioctl'>, known: readonly string[], fields: readonly string[]): DmaArg {
  const a = s.arg;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new BadReference('arg', `expected {${['flags', ...fields].join(', ')}}`);
  const o = a as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'flags' && !fields.includes(k)) throw new BadReference(`arg.${k}`, 'unknown field');
  const flagsRaw = o['flags'] ?? [];
  if (!Array.isArray(flagsRaw)) throw new BadReference('arg.flags', 'expected an array of flag names');
  const flags = new Set<string>();
  for (const f of flagsRaw) {
    if (typeof f !== 'string' || !known.includes(f)) throw new BadReference('arg.flags', `unknown flag ${JSON.stringify(f)} (${known.join(', ')})`);
    flags.add(f);
  }
  const get = (k: string): bigint => (fields.includes(k) ? (o[k] === undefined ? missing(k) : u64Field(o, k)) : 0n);
  return { flags, vaddr: get('vaddr'), iova: get('iova'), size: get('size') };
}

function missing(k: string): never {
  throw new BadReference(`arg.${k}`, 'missing');
}

/** sizeof(struct vfio_iommu_type1_dma_map) = offsetofend(size): argsz, flags, vaddr, iova, size. */
const MAP_MINSZ = 32;
/** offsetofend(struct vfio_iommu_type1_dma_unmap, size): argsz, flags, iova, size. */
const UNMAP_MINSZ = 24;
/** sizeof(struct vfio_bitmap): pgsize, size, data. */
const BITMAP_SZ = 24;

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

/** vfio_iommu_type1_map_dma and vfio_dma_do_map steps 2-4, before mutex_lock(&iommu->lock). */
export function mapValidate(tx: Tx, s: StimulusOf<'ioctl'>): MapArg {
  const a = dmaArg(s, MAP_FLAGS, ['vaddr', 'iova', 'size']);
  const at = 'vfio_iommu_type1.c:vfio_dma_do_map';
  // 2. argsz < minsz, or a flag outside READ|WRITE|VADDR (upstream has no MSI_RESERVED_IOVA bit)
  if ((s.argsz ?? MAP_MINSZ) < MAP_MINSZ) tx.fail('EINVAL', 'vfio_iommu_type1.c:vfio_iommu_type1_map_dma: argsz < minsz');
  if (a.flags.has('MSI_RESERVED_IOVA')) {
    if (tx.scheme.msiWindow !== 'user-reserved-iova') tx.fail('EINVAL', 'vfio_iommu_type1.c:vfio_iommu_type1_map_dma: flags & ~(READ|WRITE|VADDR)');
    // the 2016 RFC (seed 004): vfio_register_msi_range: vaddr is ignored, no READ/WRITE needed
    return { prot: { read: false, write: false }, vaddrFlag: false, msiReserved: true, vaddr: 0n, iova: a.iova, size: a.size };
  }
  // 3. u64 fields fit size_t/unsigned long/dma_addr_t on a 64-bit kernel: nothing to check.
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
  // 6. alignment to the smallest IOMMU page size
  const pgsize = lowestBit(pgsizeBitmap(tx, t));
  if (a.size === 0n || !isAligned(a.size | a.iova | a.vaddr, pgsize)) tx.fail('EINVAL', `${at}: !size or (size|iova|vaddr) & (pgsize-1)`);
  // 7. wrap
  if (wraps(a.iova, a.size) || wraps(a.vaddr, a.size)) tx.fail('EINVAL', `${at}: iova or vaddr range wraps`);
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
      if ((dma.prot.write && !vma.prot.write) || !vma.prot.read) tx.fail('EFAULT', `${at}: pin_user_pages_remote: vma does not allow the access`);
      if (vma.phys === null) backAnon(tx, vma);
      runs.push({ iova: dma.iova + off, size: len, phys: vma.phys! + (vaddr - vma.start), kind: 'ram' });
      // vfio_pin_pages_remote: non-reserved pages are charged, less those already in pfn_list.
      charge += Number(len >> PAGE_SHIFT) - vpfnPages(dma, dma.iova + off, len);
    } else if (tx.scheme.pfnmap === 'dmabuf') {
      // The BAR is imported as a dma-buf (drivers/vfio/pci/vfio_pci_dmabuf.c): mapping a revoked
      // buffer gives -ENODEV (vfio_pci_dma_buf_iommufd_map); nothing is faulted in.
      const d = deviceOf(tx.world, vma.device!);
      if (!d.memoryEnabled || d.revoked) tx.fail('ENODEV', 'vfio_pci_dmabuf.c:vfio_pci_dma_buf_iommufd_map: the dma-buf is revoked');
      const bar = d.bars.find((b) => b.index === vma.bar)!;
      runs.push({ iova: dma.iova + off, size: len, phys: bar.phys + vma.pgoff! + (vaddr - vma.start), kind: 'mmio', device: d.name, bar: bar.index });
    } else {
      // VM_PFNMAP: follow_fault_pfn -> fixup_user_fault on a missing PTE: the vfio-pci fault
      // handler gives VM_FAULT_SIGBUS when memory decode is off (CVE-2020-12888) -> -EFAULT.
      const d = deviceOf(tx.world, vma.device!);
      if (vma.state === 'empty' && !tx.ops.faultBar(tx, p, vma)) tx.fail('EFAULT', 'vfio_iommu_type1.c:follow_fault_pfn: fixup_user_fault: VM_FAULT_SIGBUS (memory disabled)');
      if (dma.prot.write && !vma.prot.write) tx.fail('EFAULT', 'vfio_iommu_type1.c:follow_fault_pfn: write_fault && !args.writable');
      const bar = d.bars.find((b) => b.index === vma.bar)!;
      // is_invalid_reserved_pfn: MMIO has no struct page: not pinned, not charged.
      runs.push({ iova: dma.iova + off, size: len, phys: bar.phys + vma.pgoff! + (vaddr - vma.start), kind: 'mmio', device: d.name, bar: bar.index });
    }
    off += len;
  }
  // vfio_pin_pages_remote: limit is the *caller's* RLIMIT_MEMLOCK, unless the dma has lock_cap.
  const limit = Number(p.rlimitMemlock >> PAGE_SHIFT);
  if (!dma.lockCap && mm.lockedVm + charge > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded');
  return { runs, charge };
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
  for (const r of pinned.runs) {
    dma.extents.push(r);
    if (r.kind === 'ram') tx.emit('pages.pinned', { container: c.id, iova: hex(r.iova), npages: Number(r.size >> PAGE_SHIFT), phys: hex(r.phys) });
    insertPte(domain, { iova: r.iova, size: r.size, phys: r.phys, dma: dma.id });
    tx.touched.ptes.push({ container: c.id, iova: r.iova, size: r.size });
    // Schemes that track BAR mappings link this one to the BAR's device.
    if (r.kind === 'mmio' && (tx.scheme.pfnmap === 'vma-link' || tx.scheme.pfnmap === 'dmabuf')) {
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
function pinMapDma(tx: Tx, p: Process, c: Container, dma: VfioDma, mm: Mm, size: bigint): void {
  const pinned = pinRuns(tx, p, dma, mm, size);
  chargePins(tx, mm, dma, pinned);
  mapRuns(tx, c, dma, pinned, size);
}

/** vpfn_pages: pages of [iova, iova+len) already pinned through pfn_list (not charged twice). */
function vpfnPages(dma: VfioDma, iova: bigint, len: bigint): number {
  let n = 0;
  for (const k of dma.pfnList.keys()) if (k >= iova && k < iova + len) n += 1;
  return n;
}

/** vfio_lock_acct -> mm_lock_acct: charge (or uncharge, negative) dma->mm; skipped if the mm is gone. */
export function accountLockedVm(tx: Tx, mm: Mm, dma: VfioDma | null, pages: number): void {
  // mmget_not_zero(dma->mm) fails once the process exited: -ESRCH, silently skipped.
  if (mm.state !== 'live') {
    tx.emit('locked_vm.skipped', { mm: mm.id, delta: pages, reason: 'mm exited (mmget_not_zero failed, -ESRCH)' });
    if (dma !== null) dma.lockedVm += pages;
    return;
  }
  mm.lockedVm += pages;
  if (dma !== null) dma.lockedVm += pages;
  tx.touched.mms.add(mm.id);
  tx.emit('locked_vm', { mm: mm.id, delta: pages, locked_vm: mm.lockedVm });
}

/** Inserts a PTE run into the domain. */
function insertPte(d: Domain, pte: IommuPte): void {
  d.ptes.set(pte.iova, pte);
}

/** Removes a dma's PTE runs: they are contiguous in iova order, from the dma's iova. */
function removePtes(d: Domain, dma: VfioDma): void {
  let pte = d.ptes.get(dma.iova);
  while (pte !== undefined && pte.dma === dma.id) {
    d.ptes.delete(pte.iova);
    pte = above(d.ptes, pte.iova);
  }
}

/**
 * vfio_change_dma_owner (VADDR remap by another process): charge the new mm, uncharge the old
 * one if it is still alive, switch task/mm and refresh lock_cap.
 */
function changeDmaOwner(tx: Tx, c: Container, p: Process, dma: VfioDma): void {
  if (p.mm === dma.mm) return;
  const newMm = mmOf(tx.world, p.mm);
  const oldMm = mmOf(tx.world, dma.mm);
  const pages = dma.lockedVm;
  if (pages > 0) {
    const limit = Number(p.rlimitMemlock >> PAGE_SHIFT);
    if (!p.capIpcLock && newMm.lockedVm + pages > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_change_dma_owner: mm_lock_acct over RLIMIT_MEMLOCK');
    newMm.lockedVm += pages;
    tx.touched.mms.add(newMm.id);
    if (oldMm.state === 'live') {
      oldMm.lockedVm -= pages;
      tx.touched.mms.add(oldMm.id);
    }
  }
  mmGrab(newMm);
  markPins(tx, c, dma);
  dma.task = p.pid;
  dma.mm = newMm.id;
  dma.lockCap = p.capIpcLock;
  mmDrop(tx, oldMm);
}

/** UNMAP_DMA's arguments after the ioctl layer's checks. */
export interface UnmapArg {
  readonly all: boolean;
  readonly vaddr: boolean;
  readonly iova: bigint;
  readonly size: bigint;
}

/** vfio_iommu_type1_unmap_dma: the ioctl layer's checks, before iommu->lock. */
export function unmapValidate(tx: Tx, s: StimulusOf<'ioctl'>): UnmapArg {
  const a = dmaArg(s, UNMAP_FLAGS, ['iova', 'size']);
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_unmap_dma';
  const all = a.flags.has('ALL');
  const vaddr = a.flags.has('VADDR');
  const dirty = a.flags.has('GET_DIRTY_BITMAP');
  const argsz = s.argsz ?? (dirty ? UNMAP_MINSZ + BITMAP_SZ : UNMAP_MINSZ);
  if (argsz < UNMAP_MINSZ) tx.fail('EINVAL', `${at}: argsz < minsz`);
  if (dirty && (all || vaddr)) tx.fail('EINVAL', `${at}: GET_DIRTY_BITMAP with ALL or VADDR`);
  if (dirty) {
    if (argsz < UNMAP_MINSZ + BITMAP_SZ) tx.fail('EINVAL', `${at}: argsz < minsz + sizeof(struct vfio_bitmap)`);
    // The model's logs carry no bitmap: verify_bitmap_size(npages, bitmap.size == 0) fails.
    tx.fail('EINVAL', `${at}: verify_bitmap_size: no bitmap (the model does not track dirty pages)`);
  }
  return { all, vaddr, iova: a.iova, size: a.size };
}

/** What vfio_dma_do_unmap carries across `goto again` (and across its dropped iommu->lock). */
export interface UnmapWalk {
  unmapped: bigint;
  /** The dma the last dma_unmap notification was for, and how often in a row. */
  lastIova: bigint | null;
  retries: number;
}

/**
 * vfio_dma_do_unmap under iommu->lock: the checks (steps 1-4), then from `again:` the v2
 * bisection rule and the walk, until it is done or meets a dma with mdev pins, whose iova it
 * returns: the caller drops iommu->lock, notifies the mdev drivers, retakes it, and walks again.
 */
export function unmapWalk(tx: Tx, c: Container, a: UnmapArg, w: UnmapWalk): { done: Outcome } | { notify: bigint } {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_dma_do_unmap';
  // ret = -EINVAL by default
  if (a.vaddr && t.emulatedGroups.length > 0) tx.fail('EBUSY', `${at}: VADDR with an emulated (mdev) group`);
  const pgsize = lowestBit(pgsizeBitmap(tx, t));
  if (!isAligned(a.iova, pgsize)) tx.fail('EINVAL', `${at}: iova & (pgsize-1)`);
  let size = a.size;
  if (a.all) {
    if (a.iova !== 0n || a.size !== 0n) tx.fail('EINVAL', `${at}: ALL with iova or size`);
    size = U64_MAX;
  } else if (size === 0n || !isAligned(size, pgsize) || wraps(a.iova, size)) {
    tx.fail('EINVAL', `${at}: !size, size & (pgsize-1), or iova + size - 1 < iova`);
  }
  const end = a.all ? U64_MAX + 1n : a.iova + size;
  const invalidated: VfioDma[] = [];
  // 5. v2 bisection rule
  if (t.v2 && !a.all) {
    const first = findDma(t, a.iova, 1n);
    if (first !== undefined && first.iova !== a.iova) tx.fail('EINVAL', `${at}: v2: request starts inside a mapping`);
    const last = findDma(t, a.iova + size - 1n, 0n);
    if (last !== undefined && last.iova + last.size !== a.iova + size) tx.fail('EINVAL', `${at}: v2: request ends inside a mapping`);
  }
  // 6. walk in iova order
  let dma = firstNode(t, a.iova);
  while (dma !== undefined && dma.iova < end) {
    const next = above(t.dmas, dma.iova);
    if (!t.v2 && a.iova > dma.iova) break; // v1: starts inside this mapping: success, nothing more
    if (a.vaddr) {
      if (dma.vaddrInvalid) {
        for (const d of invalidated) {
          d.vaddrInvalid = false;
          t.vaddrInvalidCount -= 1;
          tx.fire('vfio_dma', dmaKey(c, d), d, 'UPDATE_VADDR');
        }
        tx.fail('EINVAL', `${at}: VADDR: dma->vaddr_invalid already set (rolled back)`);
      }
      dma.vaddrInvalid = true;
      t.vaddrInvalidCount += 1;
      invalidated.push(dma);
      tx.fire('vfio_dma', dmaKey(c, dma), dma, 'INVALIDATE_VADDR');
      w.unmapped += dma.size;
      dma = next;
      continue;
    }
    if (dma.pfnList.size > 0) {
      if (dma.iova === w.lastIova) {
        w.retries += 1;
        if (w.retries > 10) throw new KernelOops(`${at}: BUG_ON(++retries > 10): the mdev driver did not unpin in dma_unmap`);
      } else {
        w.lastIova = dma.iova;
        w.retries = 0;
      }
      if (t.deviceList.length > 0) return { notify: dma.iova };
      continue; // vfio_notify_dma_unmap returns at once with no device: goto again
    }
    w.unmapped += dma.size;
    removeDma(tx, c, dma, 'REMOVE');
    dma = next;
  }
  return { done: { ret: 0n, out: { size: hex(w.unmapped) }, decidedBy: `${at}: unmapped ${hex(w.unmapped)}` } };
}

/**
 * vfio_notify_dma_unmap's callbacks, called with device_list_lock held and iommu->lock dropped:
 * dma_unmap(iova, size) on every registered device (drivers/vfio/vfio_iommu_type1.c).
 */
export function notifyDmaUnmap(tx: Tx, c: Container, iova: bigint): void {
  const dma = c.type1!.dmas.get(iova);
  if (dma === undefined) return;
  tx.cascade('mdev.dma_unmap', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => {
    for (const name of c.type1!.deviceList) tx.ops.dmaUnmap(tx, c, deviceOf(tx.world, name), dma.iova, dma.size); // device->ops->dma_unmap
  });
}

/**
 * vfio_remove_dma: WARN_ON(pfn_list), vfio_unmap_unpin (iommu_unmap in every domain, IOTLB
 * sync, then unpin and uncharge), unlink, put_task_struct, mmdrop, dma_avail++.
 */
export function removeDma(tx: Tx, c: Container, dma: VfioDma, event: 'REMOVE' | 'PIN_FAILED'): void {
  const t = c.type1!;
  const removedSize = dma.size;
  tx.cascade('dma.removed', { container: c.id, iova: hex(dma.iova), size: hex(removedSize) }, () => {
    if (dma.pfnList.size > 0) tx.kernelBug('vfio_iommu_type1.c:vfio_remove_dma: WARN_ON(!RB_EMPTY_ROOT(&dma->pfn_list))');
    tx.fire('vfio_dma', dmaKey(c, dma), dma, event);
    t.dmas.delete(dma.iova);
    // mmu_interval_notifier_remove of the pinless scheme's interval notifier, if any, and the
    // BAR links of vma-link / dma-buf schemes
    const mm = mmOf(tx.world, dma.mm);
    for (const d of tx.world.devices.values()) {
      if (d.linked.length > 0) d.linked = d.linked.filter((l) => !(l.container === c.id && l.iova === dma.iova));
    }
    mm.intervals = mm.intervals.filter((i) => !(i.container === c.id && i.dmaIova === dma.iova));
    if (dma.vaddrInvalid) t.vaddrInvalidCount -= 1;
    mmDrop(tx, mm);
    t.dmaAvail += 1;
    markPins(tx, c, dma);
  });
  tx.touched.containers.add(c.id);
}

/**
 * vfio_unmap_unpin: unmap the range from the domain, sync the IOTLB, then unpin: "pages are
 * unpinned only after the IOTLB flush". With do_accounting, uncharge dma->mm.
 */
export function unmapUnpin(tx: Tx, c: Container, dma: VfioDma, doAccounting: boolean): void {
  const domain = c.type1!.domain;
  if (domain !== null && dma.extents.length > 0) {
    removePtes(domain, dma);
    tx.emit('iommu.unmapped', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) });
    tx.emit('iotlb.sync', { container: c.id });
  }
  const ram = dma.extents.filter((e) => e.kind === 'ram');
  if (ram.length > 0) {
    const npages = ram.reduce((n, e) => n + Number(e.size >> PAGE_SHIFT), 0);
    tx.emit('pages.unpinned', { container: c.id, iova: hex(dma.iova), npages });
  }
  dma.extents = [];
  dma.iommuMapped = false;
  markPins(tx, c, dma);
  if (doAccounting && dma.lockedVm !== 0) accountLockedVm(tx, mmOf(tx.world, dma.mm), dma, -dma.lockedVm);
}

/** vfio_iommu_unmap_unpin_all: remove every vfio_dma. */
function unmapUnpinAll(tx: Tx, c: Container): void {
  const t = c.type1!;
  // lowest first, as the kernel walks rb_first()
  for (let k = t.dmas.minKey(); k !== undefined; k = t.dmas.minKey()) removeDma(tx, c, t.dmas.get(k)!, 'REMOVE');
}

// ---------------------------------------------------------------------------------------------
// attach, detach, release

/** vfio_iommu_type1_attach_group, under iommu->lock. */
export function attachGroup(tx: Tx, c: Container, g: Group): void {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_attach_group';
  if (t.vaddrInvalidCount > 0) tx.fail('EBUSY', `${at}: vaddr_invalid_count`);
  if (t.emulatedGroups.includes(g.key) || t.domain?.groups.includes(g.key)) tx.fail('EINVAL', `${at}: group already attached`);
  if (g.emulated) {
    t.emulatedGroups.push(g.key);
    tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: null });
    return;
  }
  if (g.noiommu) return; // vfio-noiommu has no attach_group work
  const host = tx.world.iommu;
  const [aStart, aEnd] = host.aperture;
  // vfio_iommu_aper_conflict: existing dmas outside the new aperture
  const dmas = t.dmas.valuesArray();
  if (dmas.some((d) => d.iova < aStart || d.iova + d.size - 1n > aEnd)) tx.fail('EINVAL', `${at}: vfio_iommu_aper_conflict`);
  // vfio_iommu_resv_conflict: an existing dma overlaps a reserved region. Under the 2016 RFC's
  // user-registered MSI window, type1 neither reports nor excludes reserved regions (pre-v5.4).
  const resv = tx.scheme.msiWindow === 'reserved-regions' ? host.resv : [];
  if (dmas.some((d) => resv.some((r) => d.iova <= r.end && r.start <= d.iova + d.size - 1n))) tx.fail('EINVAL', `${at}: vfio_iommu_resv_conflict`);
  // vfio_iommu_aper_resize + vfio_iommu_resv_exclude
  const iovaList = excludeResv([[aStart, aEnd]], resv.map((r) => [r.start, r.end] as const));
  if (iovaList.length === 0) tx.fail('EINVAL', `${at}: vfio_iommu_resv_exclude left no valid IOVA`);
  // Interrupt remapping: the model's host isolates MSIs (iommu_group_has_isolated_msi).
  if (t.domain !== null) {
    // Same ops and coherency: the group joins the existing domain; no replay needed.
    t.domain.groups.push(g.key);
    tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: t.domain.id });
    return;
  }
  const domain: Domain = { id: newId(tx.world), groups: [g.key], ptes: iovaTree(), iovaList };
  t.domain = domain;
  try {
    replay(tx, c);
  } catch (e) {
    t.domain = null;
    throw e;
  }
  for (const dma of t.dmas.valuesArray()) markPins(tx, c, dma);
  tx.emit('iommu.group_attached', { container: c.id, group: g.key, domain: domain.id, iova_ranges: iovaList.map(([s, e]) => [hex(s), hex(e)]) });
}

/** Removes [start, end] ranges from a list of windows (vfio_iommu_resv_exclude). */
function excludeResv(list: Array<readonly [bigint, bigint]>, resv: Array<readonly [bigint, bigint]>): Array<readonly [bigint, bigint]> {
  let out = list;
  for (const [rs, re] of resv) {
    const next: Array<readonly [bigint, bigint]> = [];
    for (const [s, e] of out) {
      if (re < s || rs > e) next.push([s, e]);
      else {
        if (rs > s) next.push([s, rs - 1n]);
        if (re < e) next.push([re + 1n, e]);
      }
    }
    out = next;
  }
  return out;
}

/**
 * vfio_iommu_replay: map every existing vfio_dma into the new domain; dmas never pinned
 * (mdev-only containers) are pinned now, charged to their own mm.
 */
function replay(tx: Tx, c: Container): void {
  const t = c.type1!;
  for (const dma of t.dmas.valuesArray()) {
    if (dma.iommuMapped) continue;
    const owner = tx.world.processes.get(dma.task);
    const mm = mmOf(tx.world, dma.mm);
    if (owner === undefined || mm.state !== 'live') tx.fail('EFAULT', 'vfio_iommu_type1.c:vfio_iommu_replay: the mapping mm is gone');
    const size = dma.size;
    dma.size = 0n;
    try {
      pinMapDma(tx, owner, c, dma, mm, size);
    } finally {
      dma.size = size;
    }
  }
}

/** vfio_iommu_type1_detach_group. */
export function detachGroup(tx: Tx, c: Container, g: Group): void {
  const t = c.type1!;
  if (g.emulated) {
    t.emulatedGroups = t.emulatedGroups.filter((k) => k !== g.key);
    if (t.emulatedGroups.length === 0 && t.domain === null) {
      if (t.deviceList.length > 0) tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_detach_group: WARN_ON(!list_empty(&iommu->device_list))');
      unmapUnpinAll(tx, c);
    }
    return;
  }
  const d = t.domain;
  if (d === null || !d.groups.includes(g.key)) return;
  d.groups = d.groups.filter((k) => k !== g.key);
  if (d.groups.length > 0) return;
  if (t.emulatedGroups.length === 0) {
    unmapUnpinAll(tx, c);
  } else {
    // vfio_iommu_unmap_unpin_reaccount: unmap and unpin, keep the dmas for mdev pinning,
    // re-charge the pages still in pfn_lists.
    for (const dma of t.dmas.valuesArray()) {
      unmapUnpin(tx, c, dma, true);
      if (dma.pfnList.size > 0) accountLockedVm(tx, mmOf(tx.world, dma.mm), dma, dma.pfnList.size);
    }
  }
  t.domain = null;
  for (const dma of t.dmas.valuesArray()) markPins(tx, c, dma);
  tx.emit('iommu.domain_freed', { container: c.id, domain: d.id });
}

/** vfio_iommu_type1_release: unmap and unpin everything, free the domains. */
export function release(tx: Tx, c: Container): void {
  const t = c.type1!;
  t.emulatedGroups = [];
  unmapUnpinAll(tx, c);
  if (t.domain !== null) tx.emit('iommu.domain_freed', { container: c.id, domain: t.domain.id });
  t.domain = null;
  tx.emit('iommu.released', { container: c.id });
}

/** offsetofend(struct vfio_iommu_type1_info, iova_pgsizes). */
const INFO_MINSZ = 16;
/** sizeof(struct vfio_iommu_type1_info) with cap_offset and padding. */
const INFO_SZ = 24;

/** vfio_iommu_type1_get_info. */
function getInfo(tx: Tx, c: Container, s: StimulusOf<'ioctl'>): Outcome {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_get_info';
  // Caps in chain order: MIGRATION (header 8 + flags 4 + pad 4 + pgsize 8 + max 8), DMA_AVAIL
  // (header 8 + avail 4 + pad 4), IOVA_RANGE (header 8 + nr 4 + pad 4 + 16 per range).
  const ranges = t.domain?.iovaList ?? [];
  const capsz = 32 + 16 + (ranges.length > 0 ? 16 + 16 * ranges.length : 0);
  const argsz = s.argsz ?? INFO_SZ + capsz;
  if (argsz < INFO_MINSZ) tx.fail('EINVAL', `${at}: argsz < offsetofend(iova_pgsizes)`);
  const bitmap = pgsizeBitmap(tx, t);
  const out: Record<string, JsonValue> = { flags: ['PGSIZES', 'CAPS'], iova_pgsizes: hex(bitmap) };
  if (argsz < INFO_SZ + capsz) {
    out['argsz'] = INFO_SZ + capsz; // too small for the caps: the size needed, no caps copied
    return { ret: 0n, out, decidedBy: `${at}: argsz too small for the capability chain` };
  }
  out['cap_offset'] = INFO_SZ;
  out['migration'] = { pgsize_bitmap: hex(lowestBit(bitmap)), max_dirty_bitmap_size: hex(256n << 20n) };
  out['dma_avail'] = t.dmaAvail;
  if (ranges.length > 0) out['iova_ranges'] = ranges.map(([a, b]) => [hex(a), hex(b)]);
  return { ret: 0n, out, decidedBy: at };
}

/** The container and vfio_dma of a `state` object key `<container>@<iova>`. */
export function dmaByKey(tx: Tx, key: string): { c: Container; dma: VfioDma } {
  const [cid, iova] = key.split('@') as [string, string];
  const c = tx.world.containers.get(Number(cid));
  const dma = c?.type1 == null ? undefined : dmaAt(c.type1, BigInt(iova));
  if (c === undefined || dma === undefined) throw new ModelError(`no vfio_dma ${key}`);
  return { c, dma };
}

/**
 * The callback of a type1 MMU notifier (schemes with `type1Notifier`): the IOMMU mappings and
 * pins of every dma of `mm` whose user range meets [start, end) are torn down (unmap, IOTLB
 * sync, unpin, uncharge); the vfio_dma stays for the user to UNMAP. The caller holds mmap_lock,
 * so uncharging needs no lock of its own.
 */
export function invalidateUserRange(tx: Tx, c: Container, mm: number, start: bigint, end: bigint): void {
  for (const dma of c.type1!.dmas.valuesArray()) {
    if (dma.mm !== mm || !dma.iommuMapped || dma.vaddr >= end || start >= dma.vaddr + dma.size) continue;
    tx.cascade('dma.invalidated', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
  }
}

/**
 * The locks under which unmapping `dmas` uncharges their owners: vfio_lock_acct ->
 * mm_lock_acct takes each live mm's mmap_lock (write), lowest mm first.
 */
export function unchargeLocks(w: World, dmas: Iterable<VfioDma>): LockUse[] {
  const mms = new Set<number>();
  for (const d of dmas) if (d.lockedVm > 0 && w.mms.get(d.mm)?.state === 'live') mms.add(d.mm);
  return [...mms].sort((a, b) => a - b).map((mm) => writeLock(lockOf.mmap(mm)));
}
