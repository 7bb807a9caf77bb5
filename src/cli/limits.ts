/**
 * check's --max-memory and --time-limit: parsed from the command line, and the `shouldStop` the
 * explorer polls every few states (the explorer reads no clock and no heap itself). A search a
 * limit stops is cut off like one --max-states stops: a partial report, exit 4 without a violation.
 */
import { getHeapStatistics } from 'node:v8';
import { InputError, showValue } from '../vocab/errors.js';

/** The default --max-memory: this share of the old generation's limit; the rest is the margin for the report and the checkpoint. */
export const DEFAULT_HEAP_SHARE = 0.8;

/**
 * V8's heap_size_limit counts the young generation's reserve (three 16 MiB semi-spaces on 64-bit
 * Node 20) beside the old generation, whose limit (--max-old-space-size) is where node dies
 * ("Ineffective mark-compacts near heap limit", SIGABRT); the states the explorer keeps live there.
 */
const YOUNG_RESERVE = 48 * 2 ** 20;

/** How much the old generation can hold: heap_size_limit without the young generation's reserve. */
export function oldSpaceLimit(): number {
  const limit = getHeapStatistics().heap_size_limit;
  return Math.max(limit - YOUNG_RESERVE, limit / 2);
}

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export interface Limits {
  /** Stop once the JavaScript heap and the memory outside it (typed arrays) hold this many bytes. */
  readonly maxMemory: number;
  /** Stop after this many seconds; null: no time limit. */
  readonly timeLimit: number | null;
}

/** `512M`, `2G`, `1.5GiB`, `4096` (bytes): powers of 1024. */
export function parseSize(flag: string, text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGT]?)(?:i?B)?$/i.exec(text);
  const bytes = m === null ? 0 : Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (bytes <= 0) throw new InputError('<command line>', null, flag, `expected a size such as 512M or 2G, got ${showValue(text)}`);
  return bytes;
}

/** A size as the report says it: `1.6 GiB`, `512 MiB`. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${Math.round(n / 2 ** 20)} MiB`;
  return `${Math.max(1, Math.round(n / 2 ** 10))} KiB`;
}

export function parseLimits(o: { readonly maxMemory?: string; readonly timeLimit?: string }): Limits {
  const heap = oldSpaceLimit();
  const maxMemory = o.maxMemory === undefined ? Math.floor(heap * DEFAULT_HEAP_SHARE) : parseSize('--max-memory', o.maxMemory);
  // Past the heap limit node dies before the limit is reached: say so now.
  if (maxMemory > heap) {
    throw new InputError('<command line>', null, '--max-memory', `${formatBytes(maxMemory)} is more than node's heap can hold, ${formatBytes(heap)} (NODE_OPTIONS=--max-old-space-size=<MiB> raises it)`);
  }
  let timeLimit: number | null = null;
  if (o.timeLimit !== undefined) {
    timeLimit = /^[0-9]+(\.[0-9]+)?$/.test(o.timeLimit) ? Number(o.timeLimit) : 0;
    if (timeLimit <= 0) throw new InputError('<command line>', null, '--time-limit', `expected a positive number of seconds, got ${showValue(o.timeLimit)}`);
  }
  return { maxMemory, timeLimit };
}

/** The explorer's `shouldStop`: the heap in use, and the time since `t0` (process.hrtime.bigint()), against the limits. */
export function stopAtLimits(l: Limits, t0: bigint): () => string | null {
  return () => {
    // used_heap_size is process.memoryUsage().heapUsed without the rss read: a seventh of the cost;
    // external_memory counts what lives outside the heap (the visited set's typed array)
    const h = getHeapStatistics();
    if (h.used_heap_size + h.external_memory >= l.maxMemory) return `memory limit ${formatBytes(l.maxMemory)} reached`;
    if (l.timeLimit !== null && Number(process.hrtime.bigint() - t0) / 1e9 >= l.timeLimit) return `time limit ${l.timeLimit} s reached`;
    return null;
  };
}
