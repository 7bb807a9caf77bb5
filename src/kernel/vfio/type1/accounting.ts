/**
 * locked_vm accounting of vfio_iommu_type1 (drivers/vfio/vfio_iommu_type1.c): vfio_lock_acct ->
 * mm_lock_acct, vpfn_pages (pages already in pfn_list), vfio_change_dma_owner, and the mmap_lock
 * order that vfio_lock_acct takes when unmapping uncharges.
 */
import { PAGE_SHIFT } from '../../../log/u64.js';
import { mmOf } from '../../../core/lookup.js';
import { Tx } from '../../../core/tx.js';
import type { Container, Mm, Process, VfioDma, World } from '../../../core/world.js';
import { mmDrop, mmGrab } from '../../mm/mm.js';
import { type LockUse, writeLock, lockOf } from '../../../vocab/locks.js';
import { markPins } from './dma-tree.js';
import { assertHeld } from '../../../core/locks.js';

/** vpfn_pages: pages of [iova, iova+len) already pinned through pfn_list (not charged twice). */
export function vpfnPages(dma: VfioDma, iova: bigint, len: bigint): number {
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
  assertHeld(tx, lockOf.mmap(mm.id), `mm ${mm.id}'s locked_vm`, 'write'); // mm/util.c:__account_locked_vm: mmap_assert_write_locked(mm)
  mm.lockedVm += pages;
  if (dma !== null) dma.lockedVm += pages;
  tx.touched.mms.add(mm.id);
  tx.emit('locked_vm', { mm: mm.id, delta: pages, locked_vm: mm.lockedVm });
}

/**
 * vfio_change_dma_owner (VADDR remap by another process): charge the new mm, uncharge the old
 * one if it is still alive, switch task/mm and refresh lock_cap.
 */
export function changeDmaOwner(tx: Tx, c: Container, p: Process, dma: VfioDma): void {
  if (p.mm === dma.mm) return;
  const newMm = mmOf(tx.world, p.mm);
  const oldMm = mmOf(tx.world, dma.mm);
  const pages = dma.lockedVm;
  if (pages > 0) {
    const limit = Number(p.rlimitMemlock >> PAGE_SHIFT);
    if (!p.capIpcLock && newMm.lockedVm + pages > limit) tx.fail('ENOMEM', 'vfio_iommu_type1.c:vfio_change_dma_owner: mm_lock_acct over RLIMIT_MEMLOCK');
    assertHeld(tx, lockOf.mmap(newMm.id), `mm ${newMm.id}'s locked_vm`, 'write'); // mm_lock_acct -> mm/util.c:__account_locked_vm: mmap_assert_write_locked(mm)
    newMm.lockedVm += pages;
    tx.touched.mms.add(newMm.id);
    if (oldMm.state === 'live') {
      assertHeld(tx, lockOf.mmap(oldMm.id), `mm ${oldMm.id}'s locked_vm`, 'write'); // mm_lock_acct -> mm/util.c:__account_locked_vm: mmap_assert_write_locked(mm)
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

/**
 * The locks under which unmapping `dmas` uncharges their owners: vfio_lock_acct ->
 * mm_lock_acct takes each live mm's mmap_lock (write), lowest mm first.
 */
export function unchargeLocks(w: World, dmas: Iterable<VfioDma>): LockUse[] {
  const mms = new Set<number>();
  for (const d of dmas) if (d.lockedVm > 0 && w.mms.get(d.mm)?.state === 'live') mms.add(d.mm);
  return [...mms].sort((a, b) => a - b).map((mm) => writeLock(lockOf.mmap(mm)));
}
