/**
 * Mediated devices: a vendor driver pins, unpins and accesses guest memory through the
 * container (drivers/vfio/vfio_main.c: vfio_pin_pages, vfio_unpin_pages, vfio_dma_rw;
 * drivers/vfio/container.c: vfio_device_container_pin_pages; drivers/vfio/vfio_iommu_type1.c:
 * vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages, vfio_iommu_type1_dma_rw;
 * docs/kernel-notes.md items 1 and 2), and the dma_unmap callback the vendor must honour.
 */
import type { StimulusOf } from '../../vocab/records.js';
import { hex, PAGE_SHIFT, PAGE_SIZE, U64_MAX, u64Ranges, wraps } from '../../log/u64.js';
import { containerOf, deviceOf, groupOf, mmOf, vmaAt } from '../../core/lookup.js';
import { type Outcome, Tx } from '../../core/tx.js';
import type { Container, Device, Task, Type1, VfioDma, World } from '../../core/world.js';
import { findDma, markPins } from './type1/dma-tree.js';
import { accountLockedVm } from './type1/accounting.js';
import { backAnon } from '../mm/mm.js';
import { assertHeld, locked } from '../../core/locks.js';
import { followFaultPfn, gupRefuses } from './type1/map.js';
import { BadReference, ModelError, showValue } from '../../vocab/errors.js';
import { type LockUse, lockOf, writeLock, readLock } from '../../vocab/locks.js';
import type { Policy } from '../../schemes/policies/index.js';

/** VFIO_PIN_PAGES_MAX_ENTRIES = PAGE_SIZE / sizeof(unsigned long) on x86-64. */
const PIN_PAGES_MAX_ENTRIES = 512;

function mdevOf(tx: Tx, name: string): Device {
  const d = deviceOf(tx.world, name);
  if (!d.mdev) throw new BadReference('device', `${showValue(name)} is not a mediated device (declare it with host.mdev)`);
  return d;
}

/** The container behind an open mdev (group->container cannot change while a device is open). */
function containerOfDevice(tx: Tx, d: Device): Container | null {
  const g = groupOf(tx.world, d.group);
  return g.container === null ? null : containerOf(tx.world, g.container);
}

/** The `mdev.pin_pages` stimulus: vfio_pin_pages -> vfio_iommu_type1_pin_pages. */
export function pinPages(tx: Tx, s: StimulusOf<'mdev.pin_pages'>): Outcome {
  const d = mdevOf(tx, s.device);
  const prot = s.prot ?? { read: true, write: true };
  // vfio_main.c:vfio_pin_pages
  if (s.npage === 0) tx.fail('EINVAL', 'vfio_main.c:vfio_pin_pages: !npage');
  if (d.openCount === 0) {
    tx.kernelBug('vfio_main.c:vfio_pin_pages: WARN_ON(!vfio_assert_device_open(device))');
    tx.fail('EINVAL', 'vfio_main.c:vfio_pin_pages: device not open');
  }
  // container.c:vfio_device_container_pin_pages
  if (s.npage > PIN_PAGES_MAX_ENTRIES) tx.fail('E2BIG', 'container.c:vfio_device_container_pin_pages: npage > VFIO_PIN_PAGES_MAX_ENTRIES');
  const c = containerOfDevice(tx, d);
  const t = c?.type1 ?? null;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_pin_pages';
  if (c === null || t === null) return tx.fail('EINVAL', `${at}: !iommu`);
  if (!t.v2) tx.fail('EACCES', `${at}: !iommu->v2`);
  // v6.18 (VERSIONED_RULES 'type1-overflow'): check_mul_overflow(npage, PAGE_SIZE, &iova_size) ||
  // check_add_overflow(user_iova, iova_size - 1, &iova_end) -> -EOVERFLOW, before iommu->lock.
  if (tx.release.has('type1-overflow') && wraps(s.iova, BigInt(s.npage) * PAGE_SIZE)) tx.fail('EOVERFLOW', `${at}: check_add_overflow(user_iova, npage * PAGE_SIZE - 1)`);
  if (t.vaddrInvalidCount > 0) {
    tx.kernelBug(`${at}: WARN_ONCE(vfio_pin_pages not allowed with VFIO_UPDATE_VADDR)`);
    tx.fail('EBUSY', `${at}: vaddr_invalid_count`);
  }
  if (t.deviceList.length === 0) tx.fail('EINVAL', `${at}: list_empty(&iommu->device_list)`);
  const doAccounting = t.domain === null;
  assertHeld(tx, lockOf.iommu(c.id), `the pfn_lists of container ${c.id}'s dmas (vfio_iommu_type1_pin_pages)`); // vfio_iommu_type1_pin_pages: mutex_lock(&iommu->lock) before the checks above
  const done: Array<{ dma: VfioDma; iova: bigint; fresh: boolean }> = [];
  try {
    for (let i = 0; i < s.npage; i += 1) {
      // `iova = user_iova + PAGE_SIZE * i` in dma_addr_t: before v6.18 it can wrap.
      const iova = (s.iova + BigInt(i) * PAGE_SIZE) & U64_MAX;
      const dma = findDma(t, iova, PAGE_SIZE);
      if (dma === undefined) tx.fail('EINVAL', `${at}: no vfio_dma at ${hex(iova)}`);
      if ((prot.read && !dma.prot.read) || (prot.write && !dma.prot.write)) tx.fail('EPERM', `${at}: (dma->prot & prot) != prot`);
      const page = iova & ~(PAGE_SIZE - 1n);
      const vpfn = dma.pfnList.get(page);
      if (vpfn !== undefined) {
        vpfn.refs += 1;
        done.push({ dma, iova: page, fresh: false });
        continue;
      }
      const vaddr = dma.vaddr + (page - dma.iova);
      const pfn = pinPageExternal(tx, dma, vaddr, doAccounting);
      // vfio_iommu_type1_pin_pages: `if (!pfn_valid(phys_pfn)) ret = -EINVAL` (a BAR pfn has no
      // struct page; vfio_pin_page_external returned it unpinned and uncharged)
      if (pfn.kind === 'mmio') tx.fail('EINVAL', `${at}: !pfn_valid(phys_pfn) (MMIO has no struct page)`);
      dma.pfnList.set(page, { phys: pfn.phys, refs: 1 });
      markPins(tx, c, dma);
      done.push({ dma, iova: page, fresh: true });
    }
  } catch (e) {
    // On any error, unwind the pages this call pinned.
    for (const x of done.reverse()) unpinExternal(tx, c, t, x.dma, x.iova);
    throw e;
  }
  for (const x of done) d.vendorPins.set(x.iova, (d.vendorPins.get(x.iova) ?? 0) + 1);
  tx.touched.containers.add(c.id);
  tx.emit('mdev.pinned', { device: d.name, iova: hex(s.iova), npage: s.npage });
  return { ret: BigInt(s.npage), decidedBy: at };
}

/** The task running the step: the locks a rule takes in turn are its. */
function runningTask(tx: Tx): Task {
  if (tx.task === null) throw new ModelError('an mdev pin or unpin ran outside a task');
  return tx.task;
}

/**
 * vfio_pin_page_external(dma, vaddr, &pfn, do_accounting): mmget_not_zero(dma->mm) (-ENODEV),
 * vaddr_get_pfns(mm, vaddr, 1, dma->prot, ...) under mmap_read_lock(mm) (the pin uses the dma's
 * prot, not the caller's: the caller's was only checked against it), then, for a page with a
 * struct page and do_accounting, vfio_lock_acct(dma, 1, false) -> mm_lock_acct ->
 * mmap_write_lock_killable(mm) and __account_locked_vm (-ENOMEM over RLIMIT_MEMLOCK).
 */
function pinPageExternal(tx: Tx, dma: VfioDma, vaddr: bigint, doAccounting: boolean): { kind: 'ram' | 'mmio'; phys: bigint } {
  const task = runningTask(tx);
  const mm = mmOf(tx.world, dma.mm);
  const owner = tx.world.processes.get(dma.task);
  if (mm.state !== 'live' || owner === undefined) return tx.fail('ENODEV', 'vfio_iommu_type1.c:vfio_pin_page_external: !mmget_not_zero(dma->mm)');
  const at = 'vfio_iommu_type1.c:vaddr_get_pfns';
  const pfn = locked(tx, task, lockOf.mmap(mm.id), 'read', 'mdev.pin_pages (vaddr_get_pfns: mmap_read_lock)', () => {
    const vma = vmaAt(mm, vaddr);
    if (vma === undefined) return tx.fail('EFAULT', `${at}: pin_user_pages_remote failed and vma_lookup found no vma`);
    if (vma.kind === 'anon') {
      if (gupRefuses(dma, vma)) tx.fail('EFAULT', `${at}: pin_user_pages_remote: the vma does not allow dma->prot`);
      if (vma.phys === null) backAnon(tx, vma);
      return { kind: 'ram' as const, phys: vma.phys! + (vaddr - vma.start) };
    }
    // VM_PFNMAP: follow_fault_pfn; fixup_user_fault enters vfio_pci_mmap_huge_fault, which takes
    // down_read(&vdev->memory_lock) before it checks memory decode
    const fault = (page: bigint): boolean => locked(tx, task, lockOf.memory(vma.device!), 'read', 'mdev.pin_pages (vfio_pci_mmap_huge_fault)', () => tx.ops.faultBar(tx, owner, vma, page));
    return { kind: 'mmio' as const, phys: followFaultPfn(tx, dma, vma, vaddr, PAGE_SIZE, fault) };
  });
  // is_invalid_reserved_pfn(pfn): MMIO is neither charged nor unpinned
  if (doAccounting && pfn.kind === 'ram') {
    locked(tx, task, lockOf.mmap(mm.id), 'write', 'mdev.pin_pages (vfio_lock_acct: mmap_write_lock_killable)', () => {
      const limit = Number(owner.rlimitMemlock >> PAGE_SHIFT);
      if (!dma.lockCap && mm.lockedVm + 1 > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_pin_page_external: vfio_lock_acct: RLIMIT_MEMLOCK exceeded');
      accountLockedVm(tx, mm, dma, 1);
    });
  }
  return pfn;
}

/** vfio_unpin_page_external: ref_count--, at zero put_pfn and uncharge (if accounting). */
function unpinExternal(tx: Tx, c: Container, t: Type1, dma: VfioDma, page: bigint): void {
  const vpfn = dma.pfnList.get(page);
  if (vpfn === undefined) return;
  vpfn.refs -= 1;
  if (vpfn.refs > 0) return;
  dma.pfnList.delete(page);
  markPins(tx, c, dma);
  if (t.domain !== null) return;
  // vfio_lock_acct(dma, -unlocked, true): mmget_not_zero(dma->mm) (-ESRCH: skipped), then
  // mm_lock_acct -> mmap_write_lock_killable(mm), under iommu->lock
  const mm = mmOf(tx.world, dma.mm);
  if (mm.state !== 'live') return accountLockedVm(tx, mm, dma, -1);
  locked(tx, runningTask(tx), lockOf.mmap(mm.id), 'write', 'vfio_unpin_page_external (vfio_lock_acct: mmap_write_lock_killable)', () => accountLockedVm(tx, mm, dma, -1));
}

/** The `mdev.unpin_pages` stimulus: vfio_unpin_pages -> vfio_iommu_type1_unpin_pages (void). */
export function unpinPages(tx: Tx, s: StimulusOf<'mdev.unpin_pages'>): Outcome {
  const d = mdevOf(tx, s.device);
  const c = containerOfDevice(tx, d);
  unpinRange(tx, c, d, s.iova, s.npage);
  return { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages' };
}

export function unpinRange(tx: Tx, c: Container | null, d: Device, iova: bigint, npage: number): void {
  const at = 'vfio_main.c:vfio_unpin_pages';
  if (npage <= 0) return tx.kernelBug(`${at}: WARN_ON(npage <= 0)`);
  if (d.openCount === 0) return tx.kernelBug(`${at}: WARN_ON(!vfio_assert_device_open(device))`);
  if (npage > PIN_PAGES_MAX_ENTRIES) return tx.kernelBug('container.c:vfio_device_container_unpin_pages: WARN_ON(npage > VFIO_PIN_PAGES_MAX_ENTRIES)');
  const t = c?.type1 ?? null;
  if (c === null || t === null) return;
  if (!t.v2) return tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages: WARN_ON(!iommu->v2)');
  // v6.18 (VERSIONED_RULES 'type1-overflow'): `if (WARN_ON(check_mul_overflow(npage, PAGE_SIZE,
  // &iova_size) || check_add_overflow(user_iova, iova_size - 1, &iova_end))) return;`
  if (tx.release.has('type1-overflow') && wraps(iova, BigInt(npage) * PAGE_SIZE)) return tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages: WARN_ON(check_add_overflow(user_iova, npage * PAGE_SIZE - 1))');
  assertHeld(tx, lockOf.iommu(c.id), `the pfn_lists of container ${c.id}'s dmas (vfio_iommu_type1_unpin_pages)`); // vfio_iommu_type1_unpin_pages: mutex_lock(&iommu->lock)
  let i = 0;
  for (; i < npage; i += 1) {
    // `dma_addr_t iova = user_iova + PAGE_SIZE * i`: before v6.18 it can wrap.
    const page = ((iova & ~(PAGE_SIZE - 1n)) + BigInt(i) * PAGE_SIZE) & U64_MAX;
    const dma = findDma(t, page, PAGE_SIZE);
    if (dma === undefined) break;
    unpinExternal(tx, c, t, dma, page);
    const held = d.vendorPins.get(page) ?? 0;
    if (held <= 1) d.vendorPins.delete(page);
    else d.vendorPins.set(page, held - 1);
  }
  if (i !== npage) tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages: WARN_ON(i != npage)');
  tx.touched.containers.add(c.id);
  tx.emit('mdev.unpinned', { device: d.name, iova: hex(iova), npage: i });
}

/** The `mdev.dma_rw` stimulus: vfio_dma_rw -> vfio_iommu_type1_dma_rw (no pinning; CPU copy). */
export function dmaRw(tx: Tx, s: StimulusOf<'mdev.dma_rw'>): Outcome {
  const d = mdevOf(tx, s.device);
  const write = s.write === true;
  if (s.length === 0n) tx.fail('EINVAL', 'vfio_main.c:vfio_dma_rw: len <= 0');
  if (d.openCount === 0) {
    tx.kernelBug('vfio_main.c:vfio_assert_device_open: WARN_ON_ONCE(!device->open_count)');
    tx.fail('EINVAL', 'vfio_main.c:vfio_dma_rw: !vfio_assert_device_open(device)');
  }
  const c = containerOfDevice(tx, d);
  const t = c?.type1 ?? null;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_dma_rw_chunk';
  if (t === null) return tx.fail('EINVAL', 'vfio_main.c:vfio_dma_rw: no container driver');
  if (t.vaddrInvalidCount > 0) {
    tx.kernelBug('vfio_iommu_type1.c:vfio_iommu_type1_dma_rw: WARN_ONCE(vfio_dma_rw not allowed with VFIO_UPDATE_VADDR)');
    tx.fail('EBUSY', 'vfio_iommu_type1.c:vfio_iommu_type1_dma_rw: vaddr_invalid_count');
  }
  // vfio_iommu_type1_dma_rw: `while (count > 0) { ... count -= done; user_iova += done; }`, the
  // iova in dma_addr_t: a copy that runs past 2^64 goes on at iova 0.
  let iova = s.iova;
  let count = s.length;
  while (count > 0n) {
    const dma = findDma(t, iova, 1n);
    if (dma === undefined) tx.fail('EINVAL', `${at}: no vfio_dma at ${hex(iova)}`);
    if ((write && !dma.prot.write) || !dma.prot.read) tx.fail('EPERM', `${at}: (write && !(prot & IOMMU_WRITE)) || !(prot & IOMMU_READ)`);
    const mm = mmOf(tx.world, dma.mm);
    if (mm.state !== 'live') tx.fail('EPERM', `${at}: !mmget_not_zero(dma->mm) (the mapping process exited)`);
    // `offset = user_iova - dma->iova; if (count > dma->size - offset) count = dma->size - offset;`
    const offset = iova - dma.iova;
    const done = count < dma.size - offset ? count : dma.size - offset;
    // kthread_use_mm + copy_to/from_user at dma->vaddr + offset: all or nothing per chunk.
    let va = dma.vaddr + offset;
    const vaEnd = va + done;
    while (va < vaEnd) {
      const vma = vmaAt(mm, va);
      if (vma === undefined || (write && !vma.prot.write) || vma.kind !== 'anon') tx.fail('EFAULT', `${at}: copy_${write ? 'to' : 'from'}_user copied nothing`);
      if (vma.phys === null) backAnon(tx, vma);
      va = vma.end;
    }
    count -= done;
    iova = (iova + done) & U64_MAX;
  }
  tx.emit('mdev.dma_rw', { device: d.name, iova: hex(s.iova), length: hex(s.length), write });
  return { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_iommu_type1_dma_rw' };
}

/** The container type1 state behind the mdev a stimulus names, if any. */
function type1Behind(w: World, device: string): { c: Container; t: Type1 } | null {
  const d = w.devices.get(device);
  const g = d === undefined ? undefined : w.groups.get(d.group);
  const c = g?.container == null ? undefined : w.containers.get(g.container);
  return c?.type1 == null ? null : { c, t: c.type1 };
}

/**
 * The locks the entry point holds across the call, in the kernel's order: for vfio_pin_pages and
 * vfio_unpin_pages the vendor driver's lock (scheme point mdevVendor: gvt's vgpu->cache_lock,
 * vfio-ap's matrix_dev->mdevs_lock), then type1's iommu->lock (vfio_iommu_type1_pin_pages /
 * _unpin_pages: mutex_lock(&iommu->lock)); vfio_dma_rw holds iommu->lock and copies through each
 * owner's mm (kthread_use_mm; its faults take mmap_lock). The locks taken and released in turn
 * inside iommu->lock are mdevInnerLocks.
 */
export function mdevLocks(w: World, s: StimulusOf<'mdev.pin_pages' | 'mdev.unpin_pages' | 'mdev.dma_rw'>, policy: Policy): LockUse[] {
  const ct = type1Behind(w, s.device);
  if (ct === null) return [];
  const iommu = writeLock(lockOf.iommu(ct.c.id));
  if (s.op !== 'mdev.dma_rw') {
    const vendor = policy.mdevVendor.vendorLock(s.device);
    return [...(vendor === null ? [] : [writeLock(vendor)]), iommu];
  }
  const mms = new Set<number>();
  const touches = (x: VfioDma): boolean => u64Ranges(s.iova, s.length).some(([a, b]) => x.iova < b && a < x.iova + x.size);
  for (const x of ct.t.dmas.valuesArray()) if (touches(x) && w.mms.get(x.mm)?.state === 'live') mms.add(x.mm);
  return [iommu, ...[...mms].sort((a, b) => a - b).map((mm) => readLock(lockOf.mmap(mm)))];
}

/**
 * The locks vfio_pin_pages / vfio_unpin_pages take and release in turn under iommu->lock (the
 * step waits for them too). Pinning a page not yet in the dma's pfn_list: mmap_read_lock(dma->mm)
 * (vaddr_get_pfns), inside it the BAR's memory_lock (read) if the PFNMAP PTE must be faulted in
 * (vfio_pci_mmap_huge_fault), then, without an IOMMU domain and for RAM, mmap_write_lock(dma->mm)
 * to charge (vfio_lock_acct). Unpinning a page's last reference without an IOMMU domain:
 * mmap_write_lock(dma->mm) to uncharge. The pin's walk stops where the kernel's first error would.
 */
export function mdevInnerLocks(w: World, s: StimulusOf<'mdev.pin_pages' | 'mdev.unpin_pages' | 'mdev.dma_rw'>): LockUse[] {
  const ct = type1Behind(w, s.device);
  if (ct === null || s.op === 'mdev.dma_rw') return [];
  const { t } = ct;
  const out: LockUse[] = [];
  const add = (l: LockUse): void => {
    if (!out.some((x) => x.lock === l.lock && x.mode === l.mode)) out.push(l);
  };
  const prot = s.op === 'mdev.pin_pages' ? (s.prot ?? { read: true, write: true }) : null;
  for (let i = 0; i < Math.min(s.npage, PIN_PAGES_MAX_ENTRIES); i += 1) {
    const page = ((s.iova & ~(PAGE_SIZE - 1n)) + BigInt(i) * PAGE_SIZE) & U64_MAX;
    const dma = findDma(t, page, PAGE_SIZE);
    if (dma === undefined) break;
    const mm = w.mms.get(dma.mm);
    const vpfn = dma.pfnList.get(page);
    if (prot === null) {
      if (vpfn?.refs === 1 && t.domain === null && mm?.state === 'live') add(writeLock(lockOf.mmap(dma.mm)));
      continue;
    }
    if ((prot.read && !dma.prot.read) || (prot.write && !dma.prot.write)) break;
    if (vpfn !== undefined) continue;
    if (mm?.state !== 'live') break;
    add(readLock(lockOf.mmap(mm.id)));
    const vma = vmaAt(mm, dma.vaddr + (page - dma.iova));
    if (vma === undefined) break;
    if (vma.kind === 'bar') {
      if (vma.state === 'empty') add(readLock(lockOf.memory(vma.device!)));
      break; // !pfn_valid: -EINVAL (or the fault's -EFAULT)
    }
    if (gupRefuses(dma, vma)) break;
    if (t.domain === null) add(writeLock(lockOf.mmap(mm.id)));
  }
  return out;
}

/**
 * The mmap_locks (write) under which the vendor's unpins in [iova, iova + size) uncharge: the
 * owners of the dmas with pinned pages there, when the container has no IOMMU domain
 * (vfio_unpin_page_external -> vfio_lock_acct -> mm_lock_acct).
 */
export function unchargeOnUnpinLocks(w: World, t: Type1, iova: bigint, size: bigint): LockUse[] {
  if (t.domain !== null) return [];
  const mms = new Set<number>();
  for (const dma of t.dmas.valuesArray()) {
    if (w.mms.get(dma.mm)?.state !== 'live') continue;
    for (const page of dma.pfnList.keys()) if (page >= iova && page < iova + size) mms.add(dma.mm);
  }
  return [...mms].sort((a, b) => a - b).map((mm) => writeLock(lockOf.mmap(mm)));
}
