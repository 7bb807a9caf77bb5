/**
 * Running an entry point's rule (src/kernel/) inside a step: kernel errors (KernelReturn)
 * and BUG_ONs (KernelOops) become the outcome.
 */
import type { Stimulus, StimulusOf, StimulusOp } from '../vocab/records.js';
import { KernelOops, KernelReturn, type Outcome, type Tx } from '../core/tx.js';

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
