/**
 * What `gen` produces (issue 12): for one coverage criterion, its targets (every transition,
 * every ioctl check, every path state), a log per target the model reaches, and the targets it
 * leaves with the reason. Plain data; the CLI writes the logs and prints the summary.
 */
import { ModelError } from '../../vocab/errors.js';
import type { Rig } from './rig.js';

export const COVER_KINDS = ['transitions', 'errnos', 'paths'] as const;
export type CoverKind = (typeof COVER_KINDS)[number];

/** One thing to cover. */
export interface Target {
  /** Its log's file name without `.jsonl`, e.g. `errno-MAP_DMA-EEXIST`. */
  readonly name: string;
  /** What it is, in one line (`group attached -UNSET_CONTAINER-> open`). */
  readonly title: string;
}

/** A target the generator does not reach, and why. */
export interface Gap {
  readonly target: Target;
  readonly why: string;
}

export interface GeneratedLog {
  readonly target: Target;
  /** `<target name>.jsonl`. */
  readonly file: string;
  /** The JSONL text, a line per record, ending with a newline. */
  readonly text: string;
}

export interface Coverage {
  readonly kind: CoverKind;
  /** Every target, covered or not, in the criterion's order. */
  readonly targets: readonly Target[];
  readonly logs: readonly GeneratedLog[];
  readonly gaps: readonly Gap[];
}

/** How a generator writes one target's log and checks that the log reaches it. */
export interface Recipe {
  readonly target: Target;
  /** Writes the records into a fresh rig; returns whether the model reached the target (and what it got instead). */
  readonly build: () => { rig: Rig; reached: boolean; got?: string };
}

/** Builds every recipe's log; a recipe that misses its target is a bug of the generator. */
export function buildAll(kind: CoverKind, targets: readonly Target[], recipes: readonly Recipe[], gaps: readonly Gap[]): Coverage {
  const logs: GeneratedLog[] = [];
  const misses: string[] = [];
  for (const r of recipes) {
    let result: ReturnType<Recipe['build']>;
    try {
      result = r.build();
    } catch (e) {
      // the model refused a record the generator wrote (bad input, or a model bug)
      misses.push(`${r.target.title}: ${(e as Error).message}`);
      continue;
    }
    const { rig, reached, got } = result;
    const built = rig.log.finish(`gen --cover ${kind}: ${r.target.title}`);
    if (!reached) misses.push(`${r.target.title}${got === undefined ? '' : `: got ${got}`}`);
    else if (built.report.divergences.length > 0) misses.push(`${r.target.title}: the log diverges from its own expectations`);
    else logs.push({ target: r.target, file: `${r.target.name}.jsonl`, text: `${built.lines.join('\n')}\n` });
  }
  if (misses.length > 0) throw new ModelError(`gen --cover ${kind}: ${misses.length} log(s) do not reach their target:\n  ${misses.join('\n  ')}`);
  return { kind, targets, logs, gaps };
}
