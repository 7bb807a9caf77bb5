/**
 * The model as the oracle of another implementation (docs/model-based-testing.md): a user's
 * adapter answers each stimulus of a generated log, and the runner compares each answer with
 * the log's `expect` (the model's outcome) field by field, as `replay` compares outcomes:
 * only what the expectation names, u64s as numbers, flag lists as sets. It reports the first
 * difference of each log. Logs are text in, verdicts out: no I/O.
 */
import { parseLog } from '../../log/reader.js';
import type { Header, JsonValue } from '../../vocab/records.js';
import { sameValue } from '../replay.js';
import type { GenRecord } from './builder.js';

/** What an implementation answers to one stimulus, spelled as a log's `expect` spells it. */
export interface Observed {
  readonly ret?: number | string | bigint;
  readonly errno?: string;
  readonly out?: { readonly [k: string]: unknown };
  readonly dma?: 'ok' | 'fault';
  readonly signal?: 'SIGBUS' | 'SIGSEGV';
}

/**
 * A stimulus as the implementation gets it: the log's record as written, without `expect` (a
 * JSON object; the library's StimulusRecord is one too).
 */
export type StimulusLike = { readonly op: string };

/** The adapter a user writes around their implementation (a vfio-user server, an emulator). */
export interface Implementation {
  /** A fresh instance for one log, under the log's header (scheme, kernel). */
  start(header: Header): void;
  /** Whether it implements this record (and header); a log with a record it does not is skipped. */
  supports?(record: StimulusLike, header: Header): boolean;
  /** Answers one stimulus. */
  apply(record: StimulusLike): Observed;
}

/** One field of an answer that is not what the model answered. */
export interface FieldDifference {
  /** `errno`, `ret`, `out.<key>`, `dma` or `signal`. */
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

export interface Difference extends FieldDifference {
  readonly log: string;
  /** The record's line in the log. */
  readonly line: number;
  /** The record's op, and its `cmd` for an ioctl. */
  readonly op: string;
  readonly cmd?: string;
  readonly record: StimulusLike;
}

export type Verdict =
  | { readonly log: string; readonly result: 'passed'; readonly stimuli: number }
  | { readonly log: string; readonly result: 'skipped'; readonly line: number; readonly op: string }
  | { readonly log: string; readonly result: 'differs'; readonly difference: Difference };

/**
 * The first field of `actual` that differs from `expected`, in the order errno, ret, out, dma,
 * signal; null when the answer meets the expectation (the rule of `meets` in src/run/replay.ts:
 * an expected `ret` also means no errno).
 */
export function firstDifference(expected: Observed, actual: Observed): FieldDifference | null {
  if (expected.errno !== undefined && actual.errno !== expected.errno) return { field: 'errno', expected: expected.errno, actual: actual.errno };
  if (expected.ret !== undefined && actual.errno !== undefined) return { field: 'errno', expected: undefined, actual: actual.errno };
  if (expected.ret !== undefined && !sameValue(typeof expected.ret === 'bigint' ? expected.ret.toString() : expected.ret, typeof actual.ret === 'bigint' ? actual.ret.toString() : actual.ret)) {
    return { field: 'ret', expected: expected.ret, actual: actual.ret };
  }
  for (const [k, v] of Object.entries(expected.out ?? {})) {
    if (actual.out === undefined || !sameValue(v, actual.out[k])) return { field: `out.${k}`, expected: v, actual: actual.out?.[k] };
  }
  if (expected.dma !== undefined && actual.dma !== expected.dma) return { field: 'dma', expected: expected.dma, actual: actual.dma };
  if (expected.signal !== undefined && actual.signal !== expected.signal) return { field: 'signal', expected: expected.signal, actual: actual.signal };
  return null;
}

/**
 * Feeds one log's stimuli to `impl` in order and compares each answer with the record's
 * `expect`. Step records are not fed: a generated log never has two tasks in flight at once,
 * so a task's stimulus is applied where it stands (an implementation that cannot run a path in
 * steps says so in `supports`).
 */
export function conformLog(impl: Implementation, log: string, text: string): Verdict {
  const { header } = parseLog(text, log); // the log must be valid under the reader
  const records = text.split('\n').slice(1).map((l, i) => ({ line: i + 2, raw: l })).filter((r) => r.raw.trim() !== '').map((r) => ({ line: r.line, rec: JSON.parse(r.raw) as GenRecord }));
  const stimuli = records.filter((r) => r.rec['op'] !== 'step' && !('cause' in r.rec));
  const unsupported = stimuli.find((r) => impl.supports !== undefined && !impl.supports(withoutExpect(r.rec), header));
  if (unsupported !== undefined) return { log, result: 'skipped', line: unsupported.line, op: String(unsupported.rec['op']) };
  impl.start(header);
  for (const { line, rec } of stimuli) {
    const record = withoutExpect(rec);
    const d = firstDifference((rec['expect'] ?? {}) as Observed, impl.apply(record));
    if (d !== null) {
      return { log, result: 'differs', difference: { log, line, op: String(rec['op']), ...(typeof rec['cmd'] === 'string' ? { cmd: rec['cmd'] } : {}), record, ...d } };
    }
  }
  return { log, result: 'passed', stimuli: stimuli.length };
}

/** Every log against `impl`: the verdict of each, in order. */
export function conformAll(impl: Implementation, logs: readonly { readonly file: string; readonly text: string }[]): Verdict[] {
  return logs.map((l) => conformLog(impl, l.file, l.text));
}

function withoutExpect(rec: GenRecord): StimulusLike & GenRecord {
  const { expect: _expect, ...rest } = rec;
  return { ...rest, op: String(rec['op']) };
}

const show = (v: unknown): string => (v === undefined ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v as JsonValue));

/** A difference in one line: `<log>:<line>: ioctl VFIO_IOMMU_MAP_DMA: errno: expected EEXIST, got EINVAL`. */
export function describeDifference(d: Difference): string {
  return `${d.log}:${d.line}: ${d.op}${d.cmd === undefined ? '' : ` ${d.cmd}`}: ${d.field}: expected ${show(d.expected)}, got ${show(d.actual)}`;
}
