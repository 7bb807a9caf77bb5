/**
 * u64 values of the log (docs/log-format.md, Values): hex strings "0x1000", decimal strings, or safe-integer JSON
 * numbers. All arithmetic is exact bigint; anything outside [0, 2^64-1] is an input error.
 */
import { fail, type Where } from '../vocab/errors.js';

export const U64_MAX = (1n << 64n) - 1n;
export const PAGE_SIZE = 0x1000n;
export const PAGE_SHIFT = 12n;

export function parseU64(value: unknown, where: Where, field: string): bigint {
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) fail(where, field, `${value} is not a safe integer; write it as a hex string`);
    v = BigInt(value);
  } else if (typeof value === 'string') {
    if (/^0x[0-9a-fA-F]+$/.test(value)) v = BigInt(value);
    else if (/^[0-9]+$/.test(value)) v = BigInt(value);
    else fail(where, field, `'${value}' is not a u64 (use "0x..." hex or decimal digits)`);
  } else {
    fail(where, field, `expected a u64 (hex string, decimal string or integer), got ${typeof value}`);
  }
  if (v < 0n) fail(where, field, `${value} is negative`);
  if (v > U64_MAX) fail(where, field, `${value} is above 2^64-1`);
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
