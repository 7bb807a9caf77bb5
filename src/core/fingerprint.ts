/**
 * Canonical text and a 53-bit fingerprint of a world: the same world gives the same bytes,
 * whatever order its Maps were filled in. Used by replay's report, the determinism tests and the
 * explorer's visited set.
 *
 * The fingerprint is of kernel state alone (kernelState): what a log says about its records
 * beyond what the kernel does with them (the line a record is on, its comment, its expectation,
 * the numbering of its seq) and the model's explanations (why a task took its error path, the
 * check that decided a pending return) are left out, so a scenario and its recording, or two
 * logs that differ only in those, fingerprint the same. None of it decides what the kernel does
 * next; the one use of seq by kernel code, the log order of the syscalls in flight when a process
 * exits (src/paths/exit.ts tasksOfPid), is kept as each seq's rank.
 */
import type { Stimulus } from '../vocab/records.js';
import { isIovaTree } from './iova-tree.js';
import type { RunningPath, Task, World } from './world.js';

/** A canonical JSON-like text: object keys and Map entries sorted, bigints as hex. */
export function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return `"0x${v.toString(16)}"`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v instanceof Map) {
    const entries = [...v.entries()].map(([k, x]) => [canonical(k), canonical(x)] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return `{${entries.map(([k, x]) => `${k}:${x}`).join(',')}}`;
  }
  if (v instanceof Set) return canonical([...v].map(canonical).sort());
  // A B-tree's shape depends on its history; its content is its entries in key order.
  if (isIovaTree(v)) return canonical(v.valuesArray());
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/** cyrb53: a fast 53-bit string hash (public domain, bryc). */
export function hash53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i += 1) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A task's record as the kernel sees it: its op and arguments, on_error, and its seq's rank. */
function recordState(s: Stimulus, rank: ReadonlyMap<number, number>): Record<string, unknown> {
  const { line: _line, comment: _comment, expect: _expect, seq, ...kernel } = s;
  return { ...kernel, seq: rank.get(seq) };
}

function pathState(rp: RunningPath, rank: ReadonlyMap<number, number>): Record<string, unknown> {
  const outcome = rp.ctx['outcome'] as { decidedBy?: string } | undefined;
  const ctx = outcome === undefined ? rp.ctx : { ...rp.ctx, outcome: { ...outcome, decidedBy: undefined } };
  return { ...rp, stimulus: recordState(rp.stimulus, rank), ctx };
}

/** A task without `stopped` (the record it failed on: its queue is already empty) and with its records as the kernel sees them. */
function taskState(t: Task, rank: ReadonlyMap<number, number>): Record<string, unknown> {
  const { stopped: _stopped, ...rest } = t;
  return { ...rest, queue: t.queue.map((s) => recordState(s, rank)), current: t.current === null ? null : pathState(t.current, rank) };
}

/** The world with its tasks' records as the kernel sees them (see the header). */
export function kernelState(w: World): Record<string, unknown> {
  const seqs = [...w.tasks.values()].flatMap((t) => [...(t.current === null ? [] : [t.current.stimulus.seq]), ...t.queue.map((s) => s.seq)]);
  const rank = new Map([...new Set(seqs)].sort((a, b) => a - b).map((seq, i) => [seq, i]));
  return { ...w, tasks: new Map([...w.tasks].map(([name, t]) => [name, taskState(t, rank)])) };
}

/** The 53-bit hash of the world's kernel state: the explorer's visited set. */
export function worldHash(w: World): number {
  return hash53(canonical(kernelState(w)));
}

/** The world's fingerprint as replay reports it: worldHash in hex. */
export function fingerprint(w: World): string {
  return worldHash(w).toString(16).padStart(14, '0');
}
