/**
 * The atomic path: the entry point's rule (src/engine/rules/) runs in one step. Kernel errors
 * (KernelReturn) and BUG_ONs (KernelOops) become the outcome.
 */
import type { Stimulus, StimulusOf, StimulusOp } from '../../log/records.js';
import { KernelOops, KernelReturn, type Outcome, type Tx } from '../tx.js';
import type { PathDef } from './types.js';

export type Rule<O extends StimulusOp> = (tx: Tx, s: StimulusOf<O>) => Outcome;

/** Runs a rule, turning its errno or oops into the outcome. */
export function runRule(tx: Tx, rule: Rule<StimulusOp>, s: Stimulus): Outcome {
  try {
    return rule(tx, s as StimulusOf<StimulusOp>);
  } catch (e) {
    if (e instanceof KernelReturn) return { errno: e.errno, decidedBy: e.check };
    if (e instanceof KernelOops) {
      tx.kernelBug(e.check);
      return { oops: e.check, decidedBy: e.check };
    }
    throw e;
  }
}

export function atomicPath(rules: { [O in StimulusOp]: Rule<O> | null }): PathDef {
  return {
    machine: 'atomic',
    steps: {
      run: {
        run(tx, _task, rp) {
          rp.ctx['outcome'] = runRule(tx, rules[rp.stimulus.op] as Rule<StimulusOp>, rp.stimulus);
          return 'DONE';
        },
      },
    },
  };
}
