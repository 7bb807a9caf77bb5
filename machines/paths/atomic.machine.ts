/**
 * The path of every stimulus whose kernel entry point runs as one atomic step in the model:
 * it takes no lock another modelled path contends for, or holds its locks only within the step.
 *
 * Steps: src/paths/atomic.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * States:
 *   run   the entry point has not run
 *   done  it returned (the outcome is in the task's path context)
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const atomicConfig = {
  id: 'atomic',
  initial: 'run',
  states: {
    run: { on: { DONE: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const atomicPath = setup({ types: { events: {} as PathEvent<typeof atomicConfig> } }).createMachine(atomicConfig);

export type AtomicEvent = PathEvent<typeof atomicConfig>;
