/**
 * How the log writes an ioctl's argument (docs/log-format.md, "ioctl commands"): `arg` is an
 * object with the input fields of the ioctl's uapi struct (include/uapi/linux/vfio.h), flags an
 * array of names, u64 fields as the log's u64s; or, for an ioctl whose argument is a value, that
 * value. Each ioctl's parser (type1/args.ts, pci/pm.ts, group.ts, device.ts, container.ts) is
 * built from these; a malformed `arg` is bad input naming the field.
 */
import { own } from '../../log/json.js';
import { u64Text } from '../../log/u64.js';
import { BadReference, showValue } from '../../vocab/errors.js';
import type { StimulusOf } from '../../vocab/records.js';

type Ioctl = StimulusOf<'ioctl'>;
export type ArgFields = Readonly<Record<string, unknown>>;

/**
 * `arg` as an object whose fields are all among `fields`, copied to an object with no prototype,
 * so that a field the log leaves out reads as undefined, never as an Object.prototype member.
 */
export function argObject(s: Ioctl, fields: readonly string[]): ArgFields {
  const a = s.arg;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new BadReference('arg', `${s.cmd} takes {${fields.join(', ')}}`);
  const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(a)) {
    if (!fields.includes(k)) throw new BadReference(`arg.${showValue(k).slice(1, -1)}`, `unknown field (${s.cmd} takes ${fields.join(', ')})`);
    o[k] = own(a, k);
  }
  return o;
}

/** `arg.flags`: absent (no flag) or an array of names among `known`; `null` is not an array. */
export function argFlags(o: ArgFields, known: readonly string[]): Set<string> {
  const raw = o['flags'];
  if (raw === undefined) return new Set();
  if (!Array.isArray(raw)) throw new BadReference('arg.flags', `expected an array of flag names (${known.join(', ')}), got ${showValue(raw)}`);
  for (const f of raw) if (typeof f !== 'string' || !known.includes(f)) throw new BadReference('arg.flags', `unknown flag ${showValue(f)} (${known.join(', ')})`);
  return new Set(raw as string[]);
}

/** A required non-negative integer field (an fd, a PASID). */
export function argInt(o: ArgFields, k: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BadReference(`arg.${k}`, v === undefined ? 'missing' : `expected a non-negative integer, got ${showValue(v)}`);
  return v;
}

/** A required u64 field: "0x..." hex, decimal digits or a safe integer, as the log's u64s. */
export function argU64(o: ArgFields, k: string): bigint {
  const v = o[k];
  if (v === undefined) throw new BadReference(`arg.${k}`, 'missing');
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  // the text's shape and length are checked before BigInt reads it (u64Text)
  const b = typeof v === 'string' ? u64Text(v) : null;
  if (typeof b === 'bigint') return b;
  throw new BadReference(`arg.${k}`, 'expected a u64 ("0x..." or a safe integer)');
}
