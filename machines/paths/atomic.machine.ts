/**
 * The path of every stimulus whose kernel entry point runs as one atomic step in the model:
 * it takes no lock another modelled path contends for, or holds its locks only within the step.
 *
 * States:
 *   run   the entry point has not run
 *   done  it returned (the outcome is in the task's path context)
 */
import { setup } from 'xstate';

export type AtomicEvent = { type: 'DONE' };

export const atomicPath = setup({
  types: { events: {} as AtomicEvent },
}).createMachine({
  id: 'atomic',
  initial: 'run',
  states: {
    run: { on: { DONE: 'done' } },
    done: { type: 'final' },
  },
});
