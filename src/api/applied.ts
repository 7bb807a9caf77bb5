/**
 * What one record did, as the API reports it (createModel's apply, replay's `steps`): a replay
 * whose onStep turns each StepRecord into an Applied with the violations and divergence found
 * after that record.
 */
import type { Violation } from '../checks/properties.js';
import { meets, Replay, type Divergence, type StepRecord } from '../run/replay.js';
import type { Scheme } from '../schemes/scheme.js';
import type { Derived, Header } from '../vocab/records.js';
import { outcomeOf, type Outcome } from './records.js';

export interface Applied {
  /** The record's seq (in createModel's log, its line: the header is line 1, so the first record is 2). */
  readonly seq: number;
  readonly op: string;
  /** The record's line in its log. */
  readonly line: number;
  /**
   * The outcome of the path that returned with this record: a stimulus without a task returns at
   * once; a step record returns its task's stimulus when it ran that path's last step. null when
   * no path returned (a task's stimulus is queued; a step in the middle of a path).
   */
  readonly outcome: Outcome | null;
  /** The kernel check (file.c:function: condition) that decided the outcome. */
  readonly decidedBy?: string;
  /** The seq of the stimulus whose path returned, when one did. */
  readonly returned?: number;
  /** A step record: the step it ran, `<path>.<state>`. */
  readonly step?: string;
  /** The derived records the engine computed for this record (docs/event-log.md). */
  readonly derived: readonly Derived[];
  /** The violations the properties found after this record. */
  readonly violations: readonly Violation[];
  /** The returned stimulus's `expect` was not met. */
  readonly divergence?: Divergence;
}

/** A Replay (under `scheme`, or the header's) that calls `onApplied` after each record with what it did. */
export function tracedReplay(header: Header, file: string, scheme: Scheme | undefined, onApplied: (a: Applied) => void): Replay {
  let seen = 0;
  const replay: Replay = new Replay(
    header,
    file,
    (r: StepRecord) => {
      const violations = replay.violations.slice(seen);
      seen = replay.violations.length;
      const o = r.outcome;
      const f = r.returned;
      // after() records an unmet expect just before it calls onStep: it is the last divergence.
      const missed = f?.expect !== undefined && o !== null && !meets(f.expect, o);
      onApplied({
        seq: r.stimulus.seq,
        op: r.stimulus.op,
        line: r.stimulus.line,
        outcome: o === null ? null : outcomeOf(o),
        ...(o === null ? {} : { decidedBy: o.decidedBy }),
        ...(f === undefined ? {} : { returned: f.seq }),
        ...(r.step === undefined ? {} : { step: r.step }),
        derived: r.derived,
        violations,
        ...(missed ? { divergence: replay.divergences[replay.divergences.length - 1]! } : {}),
      });
    },
    scheme,
  );
  return replay;
}
