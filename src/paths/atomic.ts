/**
 * The steps of the atomic path (machines/paths/atomic.machine.ts): a stimulus whose kernel entry
 * point runs in one step (src/kernel/entry.ts names each and the kernel function it mirrors).
 * The step waits until every lock the entry point takes is free, then takes them nested in the
 * kernel's order, so lockdep sees their order (docs/concurrency.md: why one step is a sound
 * reduction for these).
 */
import { holding } from '../core/locks.js';
import type { Outcome, Rule, Tx } from '../core/tx.js';
import type { World } from '../core/world.js';
import type { Policy } from '../schemes/policies/index.js';
import { ENTRY_POINTS, type EntryPoint, type SingleStepOp } from '../kernel/entry.js';
import type { LockUse } from '../vocab/locks.js';
import type { StimulusOf } from '../vocab/records.js';
import { definePath, type PathLocals } from './types.js';

function entryOf(s: StimulusOf<SingleStepOp>): EntryPoint<SingleStepOp> {
  return ENTRY_POINTS[s.op] as EntryPoint<SingleStepOp>;
}

/** The locks the stimulus's entry point takes, in the kernel's order. */
export function entryLocks(w: World, s: StimulusOf<SingleStepOp>, policy: Policy): LockUse[] {
  return entryOf(s).locks?.(w, s, policy) ?? [];
}

/** The locks the entry point's rule takes and releases in turn inside those (the step waits for them too). */
export function entryInnerLocks(w: World, s: StimulusOf<SingleStepOp>, policy: Policy): LockUse[] {
  return entryOf(s).inner?.(w, s, policy) ?? [];
}

/** Runs the stimulus's entry point: its outcome, or the errno or BUG_ON it ends with. */
export function runEntry(tx: Tx, s: StimulusOf<SingleStepOp>): Outcome {
  const rule = entryOf(s).rule as Rule<SingleStepOp>;
  return tx.outcomeOf(() => rule(tx, s));
}

export const atomic = definePath<PathLocals, SingleStepOp>()('atomic', {
  run: {
    mirrors: 'the entry point of src/kernel/entry.ts for the stimulus op',
    requires: (w, _t, rp, policy) => [...entryLocks(w, rp.stimulus, policy), ...entryInnerLocks(w, rp.stimulus, policy)],
    run(tx, task, rp) {
      const s = rp.stimulus;
      rp.ctx.outcome = holding(tx, task, entryLocks(tx.world, s, tx.policy), s.op === 'ioctl' ? `ioctl ${s.cmd}` : s.op, () => runEntry(tx, s));
      return 'DONE';
    },
  },
});
