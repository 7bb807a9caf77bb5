/**
 * LockOrder: the lock-class dependency graph over all explored steps has no cycle. Kernel rule:
 * lockdep's, every pair of lock classes is taken in one order only. The graph it needs is the
 * checker's LockGraph (../lockdep.ts), which outlives a record and is copied on fork.
 */
import type { Touched } from '../../core/tx.js';
import { cycleDetail, describeCycle, type LockGraph } from '../lockdep.js';
import type { LockDetail } from '../scenario.js';

/**
 * lockdep's acyclic lock order: adds a record's edges to the graph; the cycles they close (none
 * when it holds), each with its chain and scenario.
 */
export function lockOrder(graph: LockGraph, t: Touched): Array<{ message: string } & LockDetail> {
  const out: Array<{ message: string } & LockDetail> = [];
  for (const e of t.lockEdges) {
    const cycle = graph.add(e);
    if (cycle !== null) out.push({ message: describeCycle(cycle), ...cycleDetail(cycle) });
  }
  return out;
}
