/**
 * A process (task_struct group leader) as VFIO sees it: it opens files, maps memory, and exits.
 *
 * The order of do_exit (kernel/exit.c: exit_mm before exit_files) is a kernel path with steps,
 * machines/paths/exit.machine.ts; this machine only says where the process is in it.
 *
 * States:
 *   running  the process can issue syscalls
 *   exiting  do_exit started: no new syscalls; its address space and files are being torn down
 *   exited   do_exit finished: no mm, no fd table (a zombie; pids are never reused by the model)
 */
import { setup } from 'xstate';

export type ProcessEvent = { type: 'EXIT' } | { type: 'EXITED' };

export const processMachine = setup({
  types: { events: {} as ProcessEvent },
}).createMachine({
  id: 'process',
  initial: 'running',
  states: {
    running: { on: { EXIT: 'exiting' } },
    exiting: { on: { EXITED: 'exited' } },
    exited: { type: 'final' },
  },
});
