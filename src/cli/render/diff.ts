/**
 * A divergence as the fields that differ, not as two whole objects: `expected errno EEXIST, got
 * errno EINVAL`, `expected out.size 0x1000, got out.size 0x0`, `expected ret 4, got errno ENOENT`.
 * Values compare as replay compares them (u64 spellings alike, flag lists as sets); `out` is
 * compared only on the fields the expectation names, as replay does.
 */
import { sameValue } from '../../run/replay.js';
import { clip, showValue } from '../../vocab/errors.js';
import type { JsonValue } from '../../vocab/records.js';

export interface FieldDifference {
  readonly field: string;
  /** Absent: the expectation (or the recorded derived record) has no such field. */
  readonly expected?: JsonValue;
  /** Absent: the outcome (or the recomputed derived record) has no such field. */
  readonly actual?: JsonValue;
}

function isObject(v: JsonValue | undefined): v is { [k: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf fields by dotted path; arrays are leaves (flag lists compare as sets). */
function flatten(v: JsonValue, prefix: string, out: Map<string, JsonValue>): Map<string, JsonValue> {
  if (!isObject(v)) {
    out.set(prefix, v);
    return out;
  }
  for (const [k, x] of Object.entries(v)) flatten(x, prefix === '' ? k : `${prefix}.${k}`, out);
  return out;
}

export function differingFields(expected: JsonValue, actual: JsonValue): FieldDifference[] {
  if (!isObject(expected) || !isObject(actual)) return sameValue(expected, actual) ? [] : [{ field: '(record)', expected, actual }];
  const e = flatten(expected, '', new Map());
  const a = flatten(actual, '', new Map());
  const fields = [...new Set([...e.keys(), ...a.keys()])].filter((f) => e.has(f) || !f.startsWith('out.'));
  return fields
    .filter((f) => !(e.has(f) && a.has(f) && sameValue(e.get(f), a.get(f))))
    .map((field) => ({ field, ...(e.has(field) ? { expected: e.get(field)! } : {}), ...(a.has(field) ? { actual: a.get(field)! } : {}) }));
}

function valueText(v: JsonValue): string {
  // a scalar as the log writes it; anything else as every message shows input (cut, escaped)
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? clip(String(v)) : showValue(v);
}

/** `expected errno EEXIST, got errno EINVAL`; a side with none of the fields says `nothing`. */
export function diffText(expected: JsonValue, actual: JsonValue): string {
  const d = differingFields(expected, actual);
  const side = (pick: (x: FieldDifference) => JsonValue | undefined): string =>
    d.flatMap((x) => (pick(x) === undefined ? [] : [`${x.field} ${valueText(pick(x)!)}`])).join(', ') || 'nothing';
  return `expected ${side((x) => x.expected)}, got ${side((x) => x.actual)}`;
}
