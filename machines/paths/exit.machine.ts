/**
 * Process exit as a kernel path: kernel/exit.c do_exit -> exit_mm (mmput -> __mmput ->
 * mm/mmap.c exit_mmap: mmu_notifier_release first, with no lock held; then mmap_read_lock,
 * unmap_vmas (a full invalidate_range_start/end), mmap_read_unlock, mmap_write_lock,
 * free_pgtables and every vma freed, mmap_write_unlock) -> exit_files (every fd's last fput).
 * A process's exit waits for its syscalls in flight (they hold its mm).
 *
 * Steps: src/paths/exit.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: none around mmu_notifier_release (each notifier's release takes its own locks,
 * with nothing held: mn_itree_release and mn_hlist_release do not enter the lockdep map
 * mmu_notifier_invalidate_range_start); then mmap_lock (read) with the lockdep map inside it
 * (unmap_vmas), mmap_lock (write); then, per file, the locks its release takes
 * (dev_set->lock, group->group_lock, container->group_lock, iommu->lock).
 *
 * States:
 *   wait     nothing done; next: once no other syscall of the process is in flight, begin
 *   mm       exiting; next: mmput (from here mmget_not_zero fails); if it was the last user,
 *            exit_mmap begins: mmu_notifier_release, no lock held: mn_itree_release's
 *            mn_itree_inv_start_range (the seq goes odd if an interval exists), and, when the
 *            mm has no interval, mn_hlist_release's SVA releases
 *   release  inside mmu_notifier_release; next: one subscriber's release, no lock held: the
 *            interval notifiers' invalidate (mn_itree_release; after the last, mn_itree_inv_end
 *            and the SVA releases), then the type1 notifiers' release (a scheme's callback)
 *   unmap    released; next: mmap_read_lock, unmap_vmas (invalidate_range_start: the lockdep
 *            map and the interval callbacks still in the itree; invalidate_range_end),
 *            mmap_read_unlock, mmap_write_lock, free every vma, mmap_write_unlock, mmdrop
 *   files    the address space is gone; next: close every fd (exit_files); the releases of
 *            the files whose last reference went run afterwards as task_work, one step each
 *   done     the process is a zombie
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const exitConfig = {
  id: 'exit',
  initial: 'wait',
  states: {
    wait: { on: { START: 'mm' } },
    mm: { on: { RELEASE: 'release', UNMAP: 'unmap', FILES: 'files' } },
    release: { on: { NEXT: 'release', UNMAP: 'unmap' } },
    unmap: { on: { FILES: 'files' } },
    files: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const exitPath = setup({ types: { events: {} as PathEvent<typeof exitConfig> } }).createMachine(exitConfig);

export type ExitEvent = PathEvent<typeof exitConfig>;
