/**
 * Process exit (kernel/exit.c do_exit: exit_mm -> mmput -> exit_mmap; exit_files).
 */

import { Tx, type Outcome } from '../../core/tx.js';
import type { Process, Mm } from '../../core/world.js';
import { fput } from '../fs/file.js';
import { releasePasid } from './mm.js';
import { removeVmas } from './mmap.js';

/** kernel/exit.c:do_exit begins: the process makes no more syscalls. */
export function beginExit(tx: Tx, p: Process): void {
  tx.touched.teardown = true;
  tx.fire('process', String(p.pid), p, 'EXIT');
}

/** kernel/exit.c:exit_mm -> mmput: drop this task's mm_users; true if it was the last user. */
export function mmputUser(mm: Mm): boolean {
  mm.users -= 1;
  return mm.users === 0;
}

/**
 * mm/mmap.c:exit_mmap, first part: mmu_notifier_release (mn_hlist_release calls every
 * subscriber's release, then unlinks them all). SVA bonds stop translating here; type1
 * notifiers (schemes) are released by the caller, one step each.
 */
export function exitMmapRelease(tx: Tx, mm: Mm): void {
  tx.emit('mm.exit_mmap', { mm: mm.id });
  tx.ops.releaseSva(tx, mm); // mn_hlist_release: the SVA bonds' ops->release
  // v5.18-rc freed the PASID in __mmput, while the IOMMU still held the mm (mmgrab)
  if (tx.policy.pasid.freedAtMmput) releasePasid(tx, mm, 'FREE', 'kernel/fork.c:__mmput -> mm_pasid_drop (v5.18-rc)');
}

/** mm/mmap.c:exit_mmap, the rest: every vma goes (pinned pages survive), then mmdrop. */
export function exitMmapUnmap(tx: Tx, mm: Mm): void {
  mm.type1Notifiers = [];
  if (mm.vmas.length > 0) removeVmas(tx, mm, 0n, mm.vmas[mm.vmas.length - 1]!.end);
  tx.fire('mm', String(mm.id), mm, 'LAST_USER_GONE');
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
