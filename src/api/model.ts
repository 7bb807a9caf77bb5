/**
 * createModel: the model one stimulus at a time, for model-based testing and for tools that drive
 * it. A Model is a replay in progress (src/run/replay.ts) whose records come from `apply`: each is
 * validated as a log line is (src/log/reader.ts), numbered, and folded in; the properties are
 * checked after it as replay checks them. The records applied so far are a log (`log()`) that
 * `replay` and `iommu-model replay` reproduce exactly.
 */
import { cloneWorld } from '../core/clone.js';
import { describeWorld } from '../core/view.js';
import { fingerprint } from '../core/fingerprint.js';
import type { World } from '../core/world.js';
import { LogReader } from '../log/reader.js';
import type { Replay, ReplayReport } from '../run/replay.js';
import { tracedReplay, type Applied } from './applied.js';
import { builtinScheme } from '../schemes/catalogue.js';
import { checkScheme, defineScheme, type Scheme } from '../schemes/scheme.js';
import { InputError, ModelError } from '../vocab/errors.js';
import type { Header, JsonValue } from '../vocab/records.js';
import { isRelease, LATEST_RELEASE, RELEASES, type ReleaseName } from '../vocab/releases.js';
import { recordText, type StimulusRecord } from './records.js';

export type { Applied } from './applied.js';

/** The name errors give the model's log (a record's line in it is its seq). */
export const MODEL_FILE = '<model>';

export interface ModelOptions {
  /** A built-in scheme's name or a Scheme object (`loadScheme` loads one from a file). Default 'upstream'. */
  readonly scheme?: string | Scheme;
  /** The kernel release whose rules apply (docs/model.md, "Kernel releases"). Default: the latest. */
  readonly kernel?: ReleaseName;
}

export interface Model {
  readonly scheme: Scheme;
  readonly kernel: ReleaseName;
  /**
   * Applies one stimulus (or a step record `{ op: 'step', task }`). A record that cannot be used
   * throws InputError naming `<model>`, the line it would have had in `log()` and the field, and
   * leaves the model as it was; a model bug throws ModelError.
   */
  apply(record: StimulusRecord): Applied;
  /** A deep copy of the world (src/core/world.ts): the model's objects, for inspection. */
  world(): World;
  /** The world as `replay --at` shows it: containers, processes, devices, groups, PASIDs. */
  view(): { [k: string]: JsonValue };
  /** The world's fingerprint, as a replay report gives it. */
  fingerprint(): string;
  /** The records applied so far as a log (JSONL text, a header and one record per line). */
  log(): string;
  /**
   * What `replay` of `log()` reports: the tasks with work left run in replay's default schedule,
   * then deadlock and teardown are checked. The model itself is unchanged.
   */
  report(): ReplayReport;
}

function schemeOf(s: string | Scheme | undefined): Scheme {
  if (s === undefined) return builtinScheme('upstream')!;
  if (typeof s !== 'string') {
    const problem = checkScheme(s);
    if (problem !== null) throw new InputError(MODEL_FILE, null, `scheme.${problem.field}`, problem.detail);
    return defineScheme(s);
  }
  const found = builtinScheme(s);
  if (found === undefined) throw new InputError(MODEL_FILE, null, 'scheme', `unknown scheme '${s}' (iommu-model schemes lists them; loadScheme loads a file)`);
  return found;
}

/** Folds `lines` (a header's text, then records' texts) into a fresh reader and replay. */
function fold(header: Header, lines: readonly string[], scheme: Scheme, onApplied: (a: Applied) => void = () => {}): { reader: LogReader; replay: Replay } {
  const reader = new LogReader(MODEL_FILE);
  reader.push(JSON.stringify(header));
  const replay = tracedReplay(header, MODEL_FILE, scheme, onApplied);
  for (const line of lines) {
    const it = reader.push(line);
    if (it !== null) replay.push(it);
  }
  return { reader, replay };
}

/** A model under a scheme and kernel release, with nothing declared yet. Synchronous. */
export function createModel(opts: ModelOptions = {}): Model {
  const scheme = schemeOf(opts.scheme);
  if (opts.kernel !== undefined && !isRelease(opts.kernel)) {
    throw new InputError(MODEL_FILE, null, 'kernel', `unknown kernel release ${JSON.stringify(opts.kernel)}; the model knows ${RELEASES.join(', ')}`);
  }
  const header: Header = { format: 'iommu-model/1', scheme: scheme.name, ...(opts.kernel === undefined ? {} : { kernel: opts.kernel }) };
  const lines: string[] = [];
  let last: Applied | null = null;
  const onApplied = (a: Applied): void => {
    last = a;
  };
  let { reader, replay } = fold(header, lines, scheme, onApplied);

  const apply = (record: StimulusRecord): Applied => {
    const seq = lines.length + 2;
    if (typeof record === 'object' && record !== null && 'seq' in record) {
      throw new InputError(MODEL_FILE, seq, 'seq', 'the model numbers the records itself: leave seq out');
    }
    const text = typeof record === 'object' && record !== null && !Array.isArray(record) ? recordText({ ...record, seq }) : 'null';
    last = null;
    try {
      const it = reader.push(text);
      if (it?.kind === 'derived') throw new InputError(MODEL_FILE, seq, 'cause', 'apply takes stimuli; derived records are what the model computes');
      if (it?.kind !== 'stimulus') throw new InputError(MODEL_FILE, seq, null, 'a record must be a stimulus object');
      replay.push(it);
      if ((last as Applied | null) === null) throw new ModelError(`${MODEL_FILE}:${seq}: the record ran nothing`);
    } catch (e) {
      // A record that failed may have moved the world part of the way: fold the log again without it.
      ({ reader, replay } = fold(header, lines, scheme, onApplied));
      throw e;
    }
    lines.push(text);
    return last as unknown as Applied;
  };

  return {
    scheme,
    kernel: opts.kernel ?? LATEST_RELEASE,
    apply,
    world: () => cloneWorld(replay.world),
    view: () => describeWorld(replay.world),
    fingerprint: () => fingerprint(replay.world),
    log: () => `${[JSON.stringify(header), ...lines].join('\n')}\n`,
    report: () => fold(header, lines, scheme).replay.finish(),
  };
}
