/**
 * A process (task_struct group leader) as VFIO sees it: it opens files, maps memory, and exits.
 *
 * Mirrors kernel/exit.c:do_exit(): exit_mm() runs before exit_files(), so the address space is
 * torn down (exit_mmap, MMU-notifier release) before the process's files are released.
 *
 * States:
 *   running  the process can issue syscalls
 *   exited   do_exit() finished: no mm, no fd table (a zombie; pids are never reused by the model)
 */
import { setup } from 'xstate';

export type ProcessEvent = { type: 'EXIT' };

export const processMachine = setup({
  types: { events: {} as ProcessEvent },
  actions: {
    /** kernel/exit.c:exit_mm(): drop this task's mm_users reference (mmput). */
    exitMm: () => {},
    /** kernel/exit.c:exit_files(): drop the fd table; every file whose f_count hits 0 is released. */
    exitFiles: () => {},
  },
}).createMachine({
  id: 'process',
  initial: 'running',
  states: {
    running: { on: { EXIT: { target: 'exited', actions: ['exitMm', 'exitFiles'] } } },
    exited: { type: 'final' },
  },
});
