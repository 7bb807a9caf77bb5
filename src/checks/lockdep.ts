/**
 * The lock-class dependency graph (property LockOrder), as lockdep builds it, but over every
 * step the model saw: an edge A -> B means some task acquired B while holding A. A new edge that
 * closes a cycle is reported with both chains: the new acquisition and the path back.
 */
import type { LockEdge } from '../core/tx.js';
import { ENTRY_POINTS } from '../kernel/entry.js';
import { PATHS } from '../paths/index.js';
import { lockdepName } from '../vocab/locks.js';
import { lockCell, scenarioOf, type ChainLink, type LockDetail } from './scenario.js';

export class LockGraph {
  private readonly out = new Map<string, Map<string, LockEdge>>();

  /** Whether the graph has the edge already (the first witness is kept). */
  has(e: LockEdge): boolean {
    return this.hasEdge(e.from, e.to);
  }

  /** Whether the graph has an edge from class `from` to class `to`. */
  hasEdge(from: string, to: string): boolean {
    return this.out.get(from)?.has(to) === true;
  }

  /**
   * Adds an edge; returns the cycle it closes (the new edge first, then the existing edges from
   * its target back to its source), or null.
   */
  add(e: LockEdge): LockEdge[] | null {
    if (this.has(e)) return null;
    const back = this.pathBetween(e.to, e.from);
    let m = this.out.get(e.from);
    if (m === undefined) {
      m = new Map();
      this.out.set(e.from, m);
    }
    m.set(e.to, e);
    return back === null ? null : [e, ...back];
  }

  /** The shortest chain of edges from `a` to `b` (breadth-first), or null. */
  private pathBetween(a: string, b: string): LockEdge[] | null {
    const prev = new Map<string, LockEdge>();
    const seen = new Set([a]);
    let frontier = [a];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const n of frontier) {
        for (const [to, e] of this.out.get(n) ?? []) {
          if (seen.has(to)) continue;
          seen.add(to);
          prev.set(to, e);
          if (to === b) {
            const path: LockEdge[] = [];
            for (let at = b; at !== a; at = prev.get(at)!.from) path.unshift(prev.get(at)!);
            return path;
          }
          next.push(to);
        }
      }
      frontier = next;
    }
    return null;
  }

  /** A copy that grows independently (one graph per explored history). */
  clone(): LockGraph {
    const g = new LockGraph();
    for (const [from, m] of this.out) g.out.set(from, new Map(m));
    return g;
  }

  edgeCount(): number {
    let n = 0;
    for (const m of this.out.values()) n += m.size;
    return n;
  }

  edges(): LockEdge[] {
    return [...this.out.values()].flatMap((m) => [...m.values()]);
  }
}

/** One line per edge of a cycle: who took what while holding what. */
export function describeCycle(cycle: readonly LockEdge[]): string {
  const classes = [...cycle.map((e) => e.from), cycle[0]!.from];
  const chains = cycle.map((e) => `${e.task} at ${e.where}: ${e.chain.join(' -> ')}`);
  return `lock-order cycle ${classes.join(' -> ')}; ${chains.join('; ')}`;
}

/** The kernel function the step that recorded an edge mirrors, when the edge names its step. */
function functionOf(e: LockEdge): string | undefined {
  if (e.step === undefined) return undefined;
  if (e.step.path === 'atomic') return (ENTRY_POINTS as Record<string, { mirrors: string }>)[e.step.op]?.mirrors;
  const steps = (PATHS as Record<string, { steps: Record<string, { mirrors: string }> }>)[e.step.path]?.steps;
  return steps?.[e.step.state]?.mirrors;
}

/**
 * A cycle as lockdep prints it (print_circular_bug): the chain, each edge with the step that
 * recorded it, and the scenario, one CPU per edge: CPU i holds the edge's `from` and takes its
 * `to`, which CPU i+1 holds. CPU0 is the acquisition that closed the cycle.
 */
export function cycleDetail(cycle: readonly LockEdge[]): LockDetail {
  const chain = cycle.map((e): ChainLink => {
    const fn = functionOf(e);
    return { from: lockdepName(e.from), to: lockdepName(e.to), task: e.task, where: e.where, ...(fn === undefined ? {} : { function: fn }), held: e.chain.slice(0, -1).map(lockdepName) };
  });
  const columns = cycle.map((e, i) => ({ task: `CPU${i}`, holds: [lockCell(e.from, e.fromMode ?? 'write')], wants: lockCell(e.to, e.toMode ?? 'write') }));
  return { scenario: scenarioOf('lock-order', columns), chain };
}
