/**
 * A lock finding as lockdep prints one (kernel/locking/lockdep.c: print_circular_bug,
 * print_circular_lock_scenario): for a lock-order cycle the dependency chain, each edge with the
 * step that recorded it, then "Possible unsafe locking scenario" with one column per CPU; for a
 * deadlock the tasks' held locks and what each waits for in the same columns. Every line fits
 * WIDTH columns: long cells wrap inside their column, too many columns become one line per row.
 */
import type { ChainLink, LockDetail, LockScenario } from '../../checks/scenario.js';

export const WIDTH = 100;
/** lockdep's column: a cell starts 29 columns after the previous one (27 wide, 2 apart). */
const MIN_COLUMN = 27;
const GAP = 2;
/** Below this a column is too narrow to read: the scenario is printed one row per line. */
const NARROWEST = 16;

/** Where `text` may break: after a space; else after `(`, `,` or `_`, or before `->`. */
function breakAt(text: string, width: number): number {
  const last = Math.min(width, text.length - 1);
  for (let i = last; i > width / 2; i -= 1) if (text[i - 1] === ' ') return i;
  for (let i = last; i > width / 2; i -= 1) {
    const c = text[i - 1]!;
    if (c === '(' || c === ',' || c === '_' || (text[i] === '-' && text[i + 1] === '>')) return i;
  }
  return width;
}

/** `text` in lines of at most `width` columns; continuation lines are indented by two. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text;
  let w = width;
  while (rest.length > w) {
    const at = breakAt(rest, w);
    out.push(rest.slice(0, at).trimEnd());
    rest = `  ${rest.slice(at).trimStart()}`;
    w = width;
  }
  out.push(rest);
  return out;
}

/** Prefixes `indent` to each line of `text` wrapped to what is left of the width. */
function indented(indent: string, text: string): string[] {
  return wrap(text, WIDTH - indent.length).map((l) => `${indent}${l}`);
}

/** Column widths that fit `avail`: each its natural width, the widest capped evenly; null if too narrow. */
function fit(natural: readonly number[], avail: number): number[] | null {
  if (natural.reduce((a, b) => a + b, 0) <= avail) return [...natural];
  const sorted = [...natural].sort((a, b) => a - b);
  let left = avail;
  let cap = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    const share = Math.floor(left / (sorted.length - i));
    if (sorted[i]! > share) {
      cap = share;
      break;
    }
    left -= sorted[i]!;
  }
  return cap < NARROWEST ? null : natural.map((n) => Math.min(n, cap));
}

/** The scenario's columns side by side (lockdep's layout), or null when they cannot fit. */
function table(s: LockScenario, indent: string): string[] | null {
  const cells = `${indent}  `;
  const natural = s.tasks.map((t, i) => Math.max(MIN_COLUMN, t.length + 5, ...s.rows.map((r) => r[i]!.length)));
  const widths = fit(natural, WIDTH - cells.length - GAP * (s.tasks.length - 1));
  if (widths === null) return null;
  const line = (parts: readonly string[]): string => `${cells}${parts.map((p, i) => p.padEnd(widths[i]!)).join(' '.repeat(GAP))}`.trimEnd();
  const head = (t: string, i: number): string => `${' '.repeat(Math.max(0, Math.min(5, widths[i]! - t.length)))}${t}`;
  const out = [line(s.tasks.map(head)), line(s.tasks.map((t, i) => head('-'.repeat(Math.max(4, t.length)), i)))];
  for (const r of s.rows) {
    const wrapped = r.map((c, i) => (c === '' ? [''] : wrap(c, widths[i]!)));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k += 1) out.push(line(wrapped.map((w) => w[k] ?? '')));
  }
  return out;
}

const TITLES: Readonly<Record<LockScenario['kind'], string>> = {
  'lock-order': 'Possible unsafe locking scenario:',
  'wait-for': 'Wait-for cycle reached (each task takes what it holds, then what it waits for):',
  stuck: 'No task can run (each task takes what it holds, then what it waits for):',
};

/** lockdep's scenario block: the title, the columns (or one row per line), *** DEADLOCK ***. */
export function scenarioLines(s: LockScenario, indent = '  '): string[] {
  const rows = table(s, indent) ?? s.rows.flatMap((r) => r.flatMap((c, i) => (c === '' ? [] : indented(`${indent}  `, `${s.tasks[i]}: ${c}`))));
  return [...indented(`${indent} `, TITLES[s.kind]), '', ...rows, '', `${indent} *** DEADLOCK ***`];
}

/** A task as the report names it: `@11` is record 11's own path (a stimulus without a task). */
function taskName(t: string): string {
  return t.startsWith('@') ? `record ${t.slice(1)}` : t;
}

function chainEntry(l: ChainLink, depth: number, indent: string): string[] {
  const frames = `${indent}       `;
  return [`${indent}-> #${depth} (${l.to}):`, ...indented(frames, `${taskName(l.task)} at ${l.where}`), ...(l.function === undefined ? [] : indented(frames, l.function)), ''];
}

/** print_circular_bug's report of a cycle: who takes what, the chain in reverse, the scenario, the held locks. */
function cycleLines(chain: readonly ChainLink[], s: LockScenario | undefined, indent: string): string[] {
  const first = chain[0]!;
  const who = taskName(first.task);
  const out = [
    `${indent}WARNING: possible circular locking dependency detected`,
    `${indent}${who} is trying to acquire lock:`,
    ...indented(`${indent}  `, `(${first.to}) at ${first.where}`),
    `${indent}but task is already holding lock:`,
    `${indent}  (${first.from})`,
    `${indent}which lock already depends on the new lock.`,
    '',
    `${indent}the existing dependency chain (in reverse order) is:`,
    '',
  ];
  for (let i = chain.length - 1; i >= 0; i -= 1) out.push(...chainEntry(chain[i]!, i, indent));
  out.push(`${indent}other info that might help us debug this:`, '');
  if (chain.length > 2) out.push(`${indent}Chain exists of:`, ...indented(`${indent}  `, [...chain.map((l) => l.from), first.from].join(' --> ')), '');
  if (s !== undefined) out.push(...scenarioLines(s, indent), '');
  const n = first.held.length;
  out.push(`${indent}${n} lock${n === 1 ? '' : 's'} held by ${who}:`, ...first.held.map((h, i) => `${indent} #${i}: (${h})`));
  return out;
}

/** The lines a finding adds under its one-line message (none when it has no scenario). */
export function detailLines(d: LockDetail, indent = '  '): string[] {
  if (d.chain !== undefined && d.chain.length > 0) return cycleLines(d.chain, d.scenario, indent);
  return d.scenario === undefined ? [] : scenarioLines(d.scenario, indent);
}
