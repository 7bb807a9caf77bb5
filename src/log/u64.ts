/**
 * u64 values of the log (docs/log-format.md, Values): hex strings "0x1000", decimal strings, or safe-integer JSON
 * numbers. All arithmetic is exact bigint; anything outside [0, 2^64-1] is an input error.
 */
import { fail, showValue, type Where } from '../vocab/errors.js';

export const U64_MAX = (1n << 64n) - 1n;
export const PAGE_SIZE = 0x1000n;
export const PAGE_SHIFT = 12n;

/** 2^64-1 has 16 hex digits and 20 decimal ones (docs/log-format.md, "Reading a log, and its limits"). */
const HEX_DIGITS = 16;
const DEC_DIGITS = 20;

/**
 * The text of a u64, checked for shape and length before BigInt sees it (BigInt of a 200 MB
 * string takes minutes): "0x" and hex digits, leading zeros allowed (padding to the width,
 * "0x00000000fee00000"), or decimal digits without a leading zero (C would read "0100" as
 * octal). Returns the value, 'range' for a well-formed number above 2^64-1, or null.
 */
export function u64Text(s: string): bigint | 'range' | null {
  if (/^0x[0-9a-fA-F]+$/.test(s)) {
    // up to 16 digits always fit: BigInt reads the "0x" text as it is (the common case)
    if (s.length <= 2 + HEX_DIGITS) return BigInt(s);
    const digits = s.slice(2).replace(/^0+/, '');
    return digits.length > HEX_DIGITS ? 'range' : BigInt(`0x${digits || '0'}`);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(s)) return null;
  if (s.length > DEC_DIGITS) return 'range';
  const v = BigInt(s);
  return v > U64_MAX ? 'range' : v;
}

export function parseU64(value: unknown, where: Where, field: string): bigint {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) fail(where, field, `${value} is not a safe integer; write it as a hex string`);
    if (value < 0) fail(where, field, `${value} is negative`);
    return BigInt(value);
  }
  if (typeof value !== 'string') fail(where, field, `expected a u64 (hex string, decimal string or integer), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  const v = u64Text(value);
  if (v === 'range') fail(where, field, `${showValue(value)} is above 2^64-1`);
  if (v === null) fail(where, field, `${showValue(value)} is not a u64 (use "0x..." hex, or decimal digits without a leading zero)`);
  return v;
}

/** Canonical text of a u64 in records and reports. */
export function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** a + b - 1 < a in u64 arithmetic: the kernel's wrap test for a range [a, a+b). */
export function wraps(start: bigint, size: bigint): boolean {
  return ((start + size - 1n) & U64_MAX) < start;
}

export function isAligned(v: bigint, align: bigint): boolean {
  return (v & (align - 1n)) === 0n;
}

/** Lowest set bit of a non-zero bitmap, as a value (1 << __ffs(x)). */
export function lowestBit(x: bigint): bigint {
  return x & -x;
}

/** The half-open ranges [start, start + len) covers in u64 arithmetic: two when it runs past 2^64. */
export function u64Ranges(start: bigint, len: bigint): Array<readonly [bigint, bigint]> {
  const end = start + len;
  return end <= U64_MAX + 1n ? [[start, end]] : [[start, U64_MAX + 1n], [0n, end - U64_MAX - 1n]];
}
