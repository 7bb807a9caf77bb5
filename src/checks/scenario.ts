/**
 * What a lock finding shows beyond its one-line message, as lockdep prints it
 * (kernel/locking/lockdep.c): "Possible unsafe locking scenario", one column per task and one
 * row per step, and for a lock-order cycle the dependency chain that recorded each edge. Pure
 * data: src/cli/render/ prints it (docs/concurrency.md, "Reading a finding").
 */
import { lockdepName, type Mode } from '../vocab/locks.js';

/** The rows of a scenario, one cell per task ('' where that task does nothing at that row). */
export interface LockScenario {
  /**
   * `lock-order`: lockdep's hypothetical CPUs, each holding one lock of the cycle and taking the
   * next; `wait-for`: the tasks of a reached wait-for cycle; `stuck`: the tasks of an invalid end
   * state (every task that has work is blocked).
   */
  readonly kind: 'lock-order' | 'wait-for' | 'stuck';
  /** The columns: CPU0, CPU1, ... for a lock-order cycle; the tasks' names otherwise. */
  readonly tasks: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** One edge of a lock-order cycle: who took `to` while holding `from` (lockdep names), and where. */
export interface ChainLink {
  readonly from: string;
  readonly to: string;
  readonly task: string;
  /** The path step (and the kernel call inside it) that took `to`. */
  readonly where: string;
  /** The kernel function the step mirrors (its steps file's `mirrors`). */
  readonly function?: string;
  /** Every lock the task held when it took `to` (lockdep's "locks held by"), outermost first. */
  readonly held: readonly string[];
}

/** The scenario and, for LockOrder, the chain: what a violation carries for the renderers. */
export interface LockDetail {
  readonly scenario?: LockScenario;
  /** LockOrder: chain[0] closed the cycle (lockdep's #0); chain[i] is lockdep's `-> #i`. */
  readonly chain?: readonly ChainLink[];
}

/** A lock as a scenario cell shows it: `lock(&iommu->lock);`, `rlock(&mm->mmap_lock);`. */
export function lockCell(id: string, mode: Mode): string {
  return `${mode === 'read' ? 'rlock' : 'lock'}(${lockdepName(id)});`;
}

/** One column: what its task holds (cells, in acquisition order) and the cell it cannot pass. */
export interface ScenarioColumn {
  readonly task: string;
  readonly holds: readonly string[];
  readonly wants: string;
}

/**
 * The rows of lockdep's scenario, generalised from its two CPUs to one per column: each task
 * takes what it holds, in column order; then each, from the last column back to the first,
 * takes what it waits for (for two: CPU0 lock(A); CPU1 lock(B); CPU1 lock(A); CPU0 lock(B), as
 * print_circular_lock_scenario prints it).
 */
export function scenarioOf(kind: LockScenario['kind'], columns: readonly ScenarioColumn[]): LockScenario {
  const n = columns.length;
  const row = (i: number, cell: string): string[] => columns.map((_, j) => (j === i ? cell : ''));
  const rows: string[][] = [];
  columns.forEach((c, i) => {
    for (const h of c.holds) rows.push(row(i, h));
  });
  for (let i = n - 1; i >= 0; i -= 1) rows.push(row(i, columns[i]!.wants));
  return { kind, tasks: columns.map((c) => c.task), rows };
}
