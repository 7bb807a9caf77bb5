/**
 * Mediated devices: a vendor driver pins, unpins and accesses guest memory through the
 * container (drivers/vfio/vfio_main.c: vfio_pin_pages, vfio_unpin_pages, vfio_dma_rw;
 * drivers/vfio/container.c: vfio_device_container_pin_pages; drivers/vfio/vfio_iommu_type1.c:
 * vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages, vfio_iommu_type1_dma_rw;
 * docs/kernel-notes.md items 1 and 2), and the dma_unmap callback the vendor must honour.
 */
import type { StimulusOf } from '../../vocab/records.js';
import { hex, PAGE_SHIFT, PAGE_SIZE, U64_MAX, wraps } from '../../log/u64.js';
import { containerOf, deviceOf, groupOf, mmOf, vmaAt } from '../../core/lookup.js';
import { type Outcome, Tx } from '../../core/tx.js';
import type { Container, Device, Type1, VfioDma, World } from '../../core/world.js';
import { findDma, markPins } from './type1/dma-tree.js';
import { accountLockedVm } from './type1/accounting.js';
import { backAnon } from '../mm/mm.js';
import { assertHeld } from '../../core/locks.js';
import { BadReference } from '../../vocab/errors.js';
import { type LockUse, lockOf, writeLock, readLock } from '../../vocab/locks.js';

/** VFIO_PIN_PAGES_MAX_ENTRIES = PAGE_SIZE / sizeof(unsigned long) on x86-64. */
const PIN_PAGES_MAX_ENTRIES = 512;

function mdevOf(tx: Tx, name: string): Device {
  const d = deviceOf(tx.world, name);
  if (!d.mdev) throw new BadReference('device', `${name} is not a mediated device (declare it with host.mdev)`);
  return d;
}

/** The container behind an open mdev (group->container cannot change while a device is open). */
function containerOfDevice(tx: Tx, d: Device): Container | null {
  const g = groupOf(tx.world, d.group);
  return g.container === null ? null : containerOf(tx.world, g.container);
}

/** SPEC 1.3 `mdev.pin_pages`: vfio_pin_pages -> vfio_iommu_type1_pin_pages. */
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
      // vfio_pin_page_external
      const mm = mmOf(tx.world, dma.mm);
      if (mm.state !== 'live') tx.fail('ENODEV', 'vfio_iommu_type1.c:vfio_pin_page_external: !mmget_not_zero(dma->mm)');
      const vaddr = dma.vaddr + (page - dma.iova);
      const vma = vmaAt(mm, vaddr);
      if (vma === undefined || (prot.write && !vma.prot.write)) tx.fail('EFAULT', 'vfio_iommu_type1.c:vaddr_get_pfns: no pinnable page');
      if (vma.kind === 'bar') tx.fail('EINVAL', `${at}: !pfn_valid(phys_pfn) (MMIO has no struct page)`);
      if (vma.phys === null) backAnon(tx, vma);
      if (doAccounting) {
        const owner = tx.world.processes.get(dma.task);
        const limit = owner === undefined ? 0 : Number(owner.rlimitMemlock >> PAGE_SHIFT);
        if (!dma.lockCap && mm.lockedVm + 1 > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_pin_page_external: RLIMIT_MEMLOCK exceeded');
        accountLockedVm(tx, mm, dma, 1);
      }
      dma.pfnList.set(page, { phys: vma.phys! + (vaddr - vma.start), refs: 1 });
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

/** vfio_unpin_page_external: ref_count--, at zero put_pfn and uncharge (if accounting). */
function unpinExternal(tx: Tx, c: Container, t: Type1, dma: VfioDma, page: bigint): void {
  const vpfn = dma.pfnList.get(page);
  if (vpfn === undefined) return;
  vpfn.refs -= 1;
  if (vpfn.refs > 0) return;
  dma.pfnList.delete(page);
  markPins(tx, c, dma);
  if (t.domain === null) accountLockedVm(tx, mmOf(tx.world, dma.mm), dma, -1);
}

/** SPEC 1.3 `mdev.unpin_pages`: vfio_unpin_pages -> vfio_iommu_type1_unpin_pages (void). */
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
  assertHeld(tx, lockOf.iommu(c.id), `the pfn_lists of container ${c.id}'s dmas (vfio_iommu_type1_unpin_pages)`); // vfio_iommu_type1_unpin_pages: mutex_lock(&iommu->lock)
  let i = 0;
  for (; i < npage; i += 1) {
    const page = (iova & ~(PAGE_SIZE - 1n)) + BigInt(i) * PAGE_SIZE;
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

/** SPEC 1.3 `mdev.dma_rw`: vfio_dma_rw -> vfio_iommu_type1_dma_rw (no pinning; CPU copy). */
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
  let iova = s.iova;
  const end = s.iova + s.length;
  while (iova < end) {
    const dma = findDma(t, iova, 1n);
    if (dma === undefined) tx.fail('EINVAL', `${at}: no vfio_dma at ${hex(iova)}`);
    if ((write && !dma.prot.write) || !dma.prot.read) tx.fail('EPERM', `${at}: (write && !(prot & IOMMU_WRITE)) || !(prot & IOMMU_READ)`);
    const mm = mmOf(tx.world, dma.mm);
    if (mm.state !== 'live') tx.fail('EPERM', `${at}: !mmget_not_zero(dma->mm) (the mapping process exited)`);
    const chunkEnd = dma.iova + dma.size < end ? dma.iova + dma.size : end;
    // kthread_use_mm + copy_to/from_user at dma->vaddr + offset: all or nothing per chunk.
    let va = dma.vaddr + (iova - dma.iova);
    const vaEnd = dma.vaddr + (chunkEnd - dma.iova);
    while (va < vaEnd) {
      const vma = vmaAt(mm, va);
      if (vma === undefined || (write && !vma.prot.write) || vma.kind !== 'anon') tx.fail('EFAULT', `${at}: copy_${write ? 'to' : 'from'}_user copied nothing`);
      if (vma.phys === null) backAnon(tx, vma);
      va = vma.end;
    }
    iova = chunkEnd;
  }
  tx.emit('mdev.dma_rw', { device: d.name, iova: hex(s.iova), length: hex(s.length), write });
  return { ret: 0n, decidedBy: 'vfio_iommu_type1.c:vfio_iommu_type1_dma_rw' };
}

/**
 * vfio_pin_pages, vfio_unpin_pages and vfio_dma_rw run under type1's iommu->lock;
 * vfio_dma_rw copies through each owner's mm (kthread_use_mm; its faults take mmap_lock).
 */
export function mdevLocks(w: World, s: StimulusOf<'mdev.pin_pages' | 'mdev.unpin_pages' | 'mdev.dma_rw'>): LockUse[] {
  const d = w.devices.get(s.device);
  const g = d === undefined ? undefined : w.groups.get(d.group);
  const c = g?.container == null ? undefined : w.containers.get(g.container);
  if (c?.type1 == null) return [];
  const locks = [writeLock(lockOf.iommu(c.id))];
  // Without an IOMMU domain pins are accounted: vfio_pin_page_external / vfio_unpin_page_external
  // -> vfio_lock_acct -> mm_lock_acct takes mmap_write_lock_killable(dma->mm), under iommu->lock.
  if (s.op !== 'mdev.dma_rw' && c.type1.domain === null) locks.push(...accountLocks(w, c.type1, s.iova, s.npage));
  if (s.op === 'mdev.dma_rw') {
    const mms = new Set<number>();
    for (const x of c.type1.dmas.valuesArray()) if (x.iova < s.iova + s.length && s.iova < x.iova + x.size && w.mms.get(x.mm)?.state === 'live') mms.add(x.mm);
    for (const mm of [...mms].sort((a, b) => a - b)) locks.push(readLock(lockOf.mmap(mm)));
  }
  return locks;
}

/**
 * The mmap_locks (write) under which pinning or unpinning `npage` pages from `iova` charges or
 * uncharges the owners of the dmas there (mdev-only containers account: vfio_lock_acct).
 */
export function accountLocks(w: World, t: Type1, iova: bigint, npage: number): LockUse[] {
  const start = iova & ~(PAGE_SIZE - 1n);
  const end = start + BigInt(npage) * PAGE_SIZE;
  const mms = new Set<number>();
  for (const dma of t.dmas.valuesArray()) if (dma.iova < end && start < dma.iova + dma.size && w.mms.get(dma.mm)?.state === 'live') mms.add(dma.mm);
  return [...mms].sort((a, b) => a - b).map((mm) => writeLock(lockOf.mmap(mm)));
}
