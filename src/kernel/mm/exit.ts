/**
 * Process exit (kernel/exit.c do_exit: exit_mm -> mmput -> exit_mmap; exit_files).
 */

import { acquire, release } from '../../core/locks.js';
import { Tx, type Outcome } from '../../core/tx.js';
import type { Process, Mm, Task } from '../../core/world.js';
import { lockOf } from '../../vocab/locks.js';
import { fput } from '../fs/file.js';
import { releasePasid } from './mm.js';
import { removeVmas } from './mmap.js';
import { invalidateEnd, invalidateStart, releaseItreeEnd, releaseItreeStart, runCallback, startReturns, subscribersOf } from './mmu_notifier.js';
import { U64_MAX } from '../../log/u64.js';

/** kernel/exit.c:do_exit begins: the process makes no more syscalls. */
export function beginExit(tx: Tx, p: Process): void {
  tx.touched.teardown = true;
  tx.fire('process', String(p.pid), p, 'EXIT');
}

/**
 * kernel/exit.c:exit_mm -> mmput: drop this task's mm_users; true if it was the last user. From
 * then on mmget_not_zero fails (every `mm.state === 'live'` check of the model), before
 * __mmput calls exit_mmap.
 */
export function mmputUser(tx: Tx, mm: Mm): boolean {
  mm.users -= 1;
  if (mm.users > 0) return false;
  tx.fire('mm', String(mm.id), mm, 'LAST_USER_GONE');
  tx.touched.mms.add(mm.id);
  return true;
}

/**
 * mm/mmap.c:exit_mmap begins with mmu_notifier_release(mm), before it takes mmap_lock
 * ("mm's last user has gone, and its about to be pulled down"). __mmu_notifier_release runs
 * mn_itree_release (if the mm has an itree), then mn_hlist_release; neither goes through
 * invalidate_range_start, so no lockdep map. This is mn_itree_release's
 * mn_itree_inv_start_range over [0, ULONG_MAX); its interval callbacks are the caller's steps.
 */
export function exitMmapBegin(tx: Tx, mm: Mm): void {
  tx.emit('mm.exit_mmap', { mm: mm.id });
  releaseItreeStart(mm);
}

/**
 * mn_itree_release ends (mn_itree_inv_end: the seq goes even), then mn_hlist_release calls
 * every hlist subscriber's ops->release: the SVA bonds stop translating here; type1 notifiers
 * (schemes) are released by the caller, one step each.
 */
export function exitMmapHlistRelease(tx: Tx, mm: Mm): void {
  releaseItreeEnd(mm);
  tx.ops.releaseSva(tx, mm); // mn_hlist_release: the SVA bonds' ops->release
  // v5.18-rc freed the PASID in __mmput, while the IOMMU still held the mm (mmgrab)
  if (tx.policy.pasid.freedAtMmput) releasePasid(tx, mm, 'FREE', 'kernel/fork.c:__mmput -> mm_pasid_drop (v5.18-rc)');
}

/**
 * mm/mmap.c:exit_mmap after mmu_notifier_release: mmap_read_lock; if the mm has a vma,
 * unmap_vmas over [0, ULONG_MAX), a full invalidation (mm/memory.c:unmap_vmas:
 * mmu_notifier_invalidate_range_start, which takes the lockdep map and calls the interval
 * callbacks still in the itree, then mmu_notifier_invalidate_range_end); mmap_read_unlock;
 * mmap_write_lock; free_pgtables and every vma closed and freed (pinned pages survive);
 * mmap_write_unlock. The hlist is empty by now: mn_hlist_release unlinked every subscriber.
 */
export function exitMmapUnmap(tx: Tx, task: Task, mm: Mm, where: string): void {
  mm.type1Notifiers = []; // mn_hlist_release: hlist_del_init_rcu of every subscriber
  const mmap = lockOf.mmap(mm.id);
  acquire(tx, task, mmap, 'read', `${where} (mmap_read_lock)`);
  if (mm.vmas.length > 0) {
    invalidateStart(tx, task, mm.id, 0n, U64_MAX, true, `${where} (unmap_vmas: invalidate_range_start)`);
    for (const sub of subscribersOf(tx.world, mm.id).filter((x) => x.kind === 'interval')) runCallback(tx, task, sub, mm.id, 0n, U64_MAX, `${where} (unmap_vmas: mn_itree_invalidate)`);
    startReturns(tx, task);
    invalidateEnd(tx, task, mm.id, true, `${where} (unmap_vmas: invalidate_range_end)`);
  }
  release(tx, task, mmap);
  acquire(tx, task, mmap, 'write', `${where} (mmap_write_lock)`);
  if (mm.vmas.length > 0) removeVmas(tx, mm, 0n, mm.vmas[mm.vmas.length - 1]!.end);
  release(tx, task, mmap);
  tx.touched.mms.add(mm.id);
}

/** kernel/exit.c:exit_files: the lowest fd still open, or undefined. */
export function nextFd(p: Process): number | undefined {
  let low: number | undefined;
  for (const fd of p.fds.keys()) if (low === undefined || fd < low) low = fd;
  return low;
}

/** Closes one fd of an exiting process (exit_files -> put_files_struct -> filp_close). */
export function exitCloseFd(tx: Tx, p: Process, fd: number): void {
  const id = p.fds.get(fd)!;
  p.fds.delete(fd);
  fput(tx, id);
}

/** do_exit ends: the process is a zombie. */
export function finishExit(tx: Tx, p: Process): Outcome {
  tx.fire('process', String(p.pid), p, 'EXITED');
  return { ret: 0n, decidedBy: 'kernel/exit.c:do_exit' };
}
