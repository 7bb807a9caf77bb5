/**
 * A path that invalidates a range of an address space through the MMU notifiers
 * (mm/mmu_notifier.c: mmu_notifier_invalidate_range_start/end and the _nonblock variant):
 * munmap (mm/mmap.c do_vmi_munmap, under mmap_write_lock, blockable), memory reclaim
 * (mm/vmscan.c try_to_unmap under fs_reclaim, blockable) and the OOM reaper
 * (mm/oom_kill.c __oom_reap_task_mm under mmap_read_trylock, non-blockable: one invalidation per
 * reapable vma, so leave loops back into the next vma's callbacks).
 *
 * Steps: src/paths/invalidate-range.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: the caller's lock (mmap_lock, or fs_reclaim), then the lockdep map
 * mmu_notifier_invalidate_range_start, then whatever a callback takes.
 *
 * States:
 *   enter     nothing done; next: the caller's lock, checks, invalidate_range_start
 *   callback  inside invalidate_range_start; next: one subscriber's callback (an interval callback
 *             that fails, non-blockable only, ends invalidate_range_start with -EAGAIN: END)
 *   leave     every callback ran, or one failed; next: invalidate_range_end (not after a failure),
 *             the unmap/reclaim; then the OOM reaper's next vma (invalidate_range_start_nonblock:
 *             CALLBACK, or END with no subscriber), or unlock and return
 *   done      returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const invalidateRangeConfig = {
  id: 'invalidate_range',
  initial: 'enter',
  states: {
    enter: { on: { CALLBACK: 'callback', END: 'leave', RETURN: 'done' } },
    callback: { on: { NEXT: 'callback', END: 'leave' } },
    leave: { on: { CALLBACK: 'callback', END: 'leave', RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const invalidateRangePath = setup({ types: { events: {} as PathEvent<typeof invalidateRangeConfig> } }).createMachine(invalidateRangeConfig);

export type InvalidateRangeEvent = PathEvent<typeof invalidateRangeConfig>;
