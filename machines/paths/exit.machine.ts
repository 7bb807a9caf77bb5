/**
 * Process exit as a kernel path: kernel/exit.c do_exit -> exit_mm (mmput -> __mmput ->
 * exit_mmap: mmap_write_lock, mmu_notifier_release, unmap every vma) -> exit_files (every fd's
 * last fput). A process's exit waits for its syscalls in flight (they hold its mm).
 *
 * Steps: src/paths/exit.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: mmap_lock (write) across exit_mmap, with each notifier's release inside it; then,
 * per file, the locks its release takes (dev_set->lock, group->group_lock,
 * container->group_lock, iommu->lock).
 *
 * States:
 *   wait     nothing done; next: once no other syscall of the process is in flight, begin
 *   mm       exiting; next: mmput; if last, mmap_write_lock and mmu_notifier_release (SVA)
 *   release  inside exit_mmap; next: one type1 notifier's release (a scheme's callback)
 *   unmap    released; next: unmap every vma, mmap_write_unlock, mmdrop
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
