/**
 * `iommu-model merge`: the reports of a search's shards (./shard.ts) as the report of one run.
 * Each property's finding is the least over the shards in the one run's order of discovery
 * (shard.ts says why that is the one run's). LockOrder is over every step, so it is found
 * again: the edges of every shard, each pair with its least witness, are added in that order to
 * the prologue's graph, exactly as the one run's checker adds them, and the cycles they close
 * are the one run's; the shortest history showing the first (explore.ts historyWithCycle) is
 * then searched as one run searches it.
 *
 * The counts are the prefix's plus each shard's part: a state reached from two shards' nodes is
 * counted in both, so they are at least the one run's (equal when the search ended within the
 * prefix). The lock edges are counted exactly.
 *
 * Pure: no clock, no I/O.
 */
import { Checker } from '../checks/properties.js';
import { cycleDetail, describeCycle } from '../checks/lockdep.js';
import type { Scheme } from '../schemes/scheme.js';
import { historyWithCycle, initialWorld, stepSeqBase, type ExploreReport, type Finding, type Scenario } from './explore.js';
import { compareKeys, edgeKey, findingKey, type Key, type KeyedEdge, type ShardReport } from './shard.js';

interface Candidate {
  readonly key: Key;
  /** Which shard found it and its place in that shard's report: two findings of one step keep the checker's order. */
  readonly tie: Key;
  readonly finding: Finding;
}

const compare = (a: Candidate, b: Candidate): number => compareKeys(a.key, b.key) || compareKeys(a.tie, b.tie);

/** The lesser of two candidates; on a tie (the same event, seen by two shards) the first. */
const least = (a: Candidate | undefined, b: Candidate): Candidate => (a === undefined || compare(b, a) < 0 ? b : a);

/** Strips a shard finding to a report's. */
function plain(f: Finding): Finding {
  const { property, message, schedule, seq, scenario, chain } = f;
  // in the order explore's findings have their fields
  return { ...(scenario === undefined ? {} : { scenario }), ...(chain === undefined ? {} : { chain }), property, message, schedule, seq };
}

/**
 * LockOrder over the union of the shards' edges, as one run's checker finds it: the finding (its
 * key and the finding before the history search) and every distinct cycle, in the order found.
 */
function lockOrder(sc: Scenario, scheme: Scheme, shards: readonly ShardReport[]): { first: Candidate | undefined; cycles: string[]; edges: number } {
  const tasks = shards[0]!.tasks;
  const checker = new Checker(false);
  const { violations } = initialWorld(sc, scheme, checker);
  const cycles = new Set<string>();
  let first: Candidate | undefined;
  violations.forEach((v, i) => {
    if (v.property !== 'LockOrder') return;
    cycles.add(v.message);
    const { property, seq, ...rest } = v;
    // The prologue's findings are ordered by their place among the shard's; LockOrder is the prologue's only when it is first found there.
    const at = shards[0]!.findings.findIndex((f) => f.property === 'LockOrder' && f.at === 'prologue');
    first ??= { key: [-1, at < 0 ? i : at], tie: [], finding: plain({ ...rest, property, schedule: [], seq }) };
  });
  const byPair = new Map<string, { key: Key; e: KeyedEdge }>();
  for (const s of shards) {
    for (const e of s.edges) {
      const pair = `${e.edge.from}\u0000${e.edge.to}`;
      const key = edgeKey(tasks, e);
      const had = byPair.get(pair);
      if (had === undefined || compareKeys(key, had.key) < 0) byPair.set(pair, { key, e });
    }
  }
  const base = stepSeqBase(sc);
  for (const { key, e } of [...byPair.values()].sort((a, b) => compareKeys(a.key, b.key))) {
    const cycle = checker.lockGraph.add(e.edge);
    if (cycle === null) continue;
    const message = describeCycle(cycle);
    cycles.add(message);
    first ??= { key: key.slice(0, -1), tie: [], finding: plain({ property: 'LockOrder', message, ...cycleDetail(cycle), schedule: e.schedule, seq: base + e.schedule.length }) };
  }
  return { first, cycles: [...cycles], edges: checker.lockGraph.edgeCount() };
}

export interface MergeOptions {
  /** The states the LockOrder history search may take (one run gives it the larger of --max-states and its states). */
  readonly historyBudget?: number;
}

/** The shards' reports (every shard of one search, checked by the caller) as one run's report. */
export function mergeShards(sc: Scenario, scheme: Scheme, shards: readonly ShardReport[], opts: MergeOptions = {}): ExploreReport {
  const first = shards[0]!;
  const tasks = first.tasks;
  const best = new Map<string, Candidate>();
  shards.forEach((s, k) => {
    s.findings.forEach((f, i) => {
      if (f.property === 'LockOrder') return;
      best.set(f.property, least(best.get(f.property), { key: findingKey(tasks, f, i), tie: [k, i], finding: plain(f) }));
    });
  });
  const lo = lockOrder(sc, scheme, shards);
  const own = shards.reduce((a, s) => ({ generated: a.generated + s.own.generated, distinct: a.distinct + s.own.distinct, terminal: a.terminal + s.own.terminal, depth: Math.max(a.depth, s.own.depth) }), first.prefix);
  if (lo.first !== undefined) {
    let f = lo.first.finding;
    if (f.schedule.length > 0) {
      const budget = opts.historyBudget ?? Math.max(...shards.map((s) => s.maxStates), own.generated);
      f = historyWithCycle(sc, scheme, budget, () => null, 16) ?? f;
    }
    const others = lo.cycles.filter((m) => m !== f.message);
    best.set('LockOrder', { key: lo.first.key, tie: [], finding: others.length === 0 ? f : { ...f, message: `${f.message} | also: ${others.join(' | ')}` } });
  }
  const cut = shards.find((s) => !s.exhausted);
  return {
    scheme: first.scheme,
    kernel: first.kernel,
    tasks,
    statesGenerated: own.generated,
    distinctStates: own.distinct,
    depth: own.depth,
    terminalStates: own.terminal,
    exhausted: cut === undefined,
    ...(cut?.cutOff === undefined ? {} : { cutOff: cut.cutOff }),
    lockEdges: lo.edges,
    findings: [...best.values()].sort(compare).map((c) => c.finding),
  };
}
