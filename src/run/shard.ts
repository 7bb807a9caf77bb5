/**
 * `check --shard k/n` (docs/scale-out.md): the search split at a prefix depth. Every shard runs
 * the same breadth-first prefix, up to the first layer with at least 4n nodes (or the layer at
 * `--shard-depth`), and so checks the prefix itself; it then explores, with a visited set of its
 * own seeded with the prefix's states, the subtrees of that layer's nodes i with i mod n = k-1
 * (round-robin in breadth-first order). The split is the explorer's checkpoint: the prefix is a
 * search cut off at the layer (cutOff 'split'), and a shard resumes it with its nodes only.
 *
 * What merge (./merge.ts) needs to give the verdicts and shortest counterexamples of one run:
 * - each property's first finding and where it was noted (of the prologue, of a state, of a
 *   step), whose order key (findingKey) is the one run's order of discovery;
 * - every lock-class edge the shard saw, each with the step that first gave it: LockOrder is
 *   over all steps, so merge unions them in the one run's order and finds the cycles again.
 *
 * Why merge's minimum is the one run's. One run (breadth-first, successors in task order, a
 * visited set) reaches each state first by its least schedule in (length, then task order): a
 * state at layer d+1 is first generated from the earliest of its parents at layer d. The state's
 * owner is the layer node its least schedule passes through; the owner's shard reaches the state
 * by the same schedule (no state on it is in the prefix, every one is a least schedule of its
 * own), so every step and state one run examines, its shard examines with the same schedule. A
 * shard also examines states by other, greater schedules; such an event has the same outcome as
 * the one run's event on that state (the explorer already relies on a state's future depending
 * on its fingerprint only), which is less. A shard notes events in increasing key order, so its
 * first finding of each property is its least; the least over shards is the one run's.
 *
 * Pure: no clock, no I/O.
 */
import type { LockEdge } from '../core/tx.js';
import type { Scheme } from '../schemes/scheme.js';
import { InputError, showValue } from '../vocab/errors.js';
import type { PropertyName } from '../vocab/properties.js';
import { explore, type ExploreReport, type Finding, type Scenario, type SearchState } from './explore.js';

/** Shard k of n (1 <= k <= n). */
export interface ShardSpec {
  readonly k: number;
  readonly n: number;
}

/** The prefix ends at the first layer with this many nodes per shard. */
export const NODES_PER_SHARD = 4;

export type FoundAt = 'prologue' | 'state' | 'step';

export interface ShardFinding extends Finding {
  readonly at: FoundAt;
}

/** A lock edge new to the shard's graph, the schedule of the step that took it and its place among that step's edges. */
export interface KeyedEdge {
  readonly edge: LockEdge;
  readonly schedule: readonly string[];
  readonly index: number;
}

export interface Counts {
  readonly generated: number;
  readonly distinct: number;
  readonly terminal: number;
  readonly depth: number;
}

export interface ShardReport {
  readonly mode: 'shard' | 'swarm';
  readonly k: number;
  readonly n: number;
  /** Where the search was split; null: it ended (or was cut off) within the prefix, so every shard holds the whole of it. */
  readonly split: { readonly depth: number; readonly layer: number; readonly roots: number } | null;
  readonly scheme: string;
  readonly kernel: ExploreReport['kernel'];
  readonly tasks: readonly string[];
  readonly maxStates: number;
  readonly exhausted: boolean;
  readonly cutOff?: string;
  /** The prefix (the same in every shard) and this shard's part beyond it. */
  readonly prefix: Counts;
  readonly own: Counts;
  readonly findings: readonly ShardFinding[];
  readonly edges: readonly KeyedEdge[];
}

export interface ShardLimits {
  readonly maxStates: number;
  readonly shouldStop?: () => string | null;
  readonly pollEvery?: number;
}

/** Parses `k/n` of --shard (or --swarm). */
export function parseShard(text: string, flag: string): ShardSpec {
  const m = /^([1-9][0-9]*)\/([1-9][0-9]*)$/.exec(text);
  const k = m === null ? 0 : Number(m[1]);
  const n = m === null ? 0 : Number(m[2]);
  if (m === null || k > n) throw new InputError('<command line>', null, flag, `expected k/n with 1 <= k <= n, e.g. 2/8, got ${showValue(text)}`);
  return { k, n };
}

/** What a shard keeps from the explorer's hooks: where each finding was noted, and the first witness of each edge. */
class Recorder {
  readonly at = new Map<PropertyName, FoundAt>();
  readonly edges: KeyedEdge[] = [];
  private readonly pairs = new Set<string>();

  constructor(from?: Prefix) {
    if (from !== undefined) {
      for (const [p, a] of Object.entries(from.at)) this.at.set(p as PropertyName, a);
      for (const e of from.edges) this.keep(e);
    }
  }

  private keep(e: KeyedEdge): void {
    const pair = `${e.edge.from}\u0000${e.edge.to}`;
    if (this.pairs.has(pair)) return;
    this.pairs.add(pair);
    this.edges.push(e);
  }

  hooks(split?: (layer: number, depth: number) => boolean): NonNullable<Parameters<typeof explore>[2]['shard']> {
    return {
      ...(split === undefined ? {} : { splitAt: split }),
      noLockHistory: true,
      onFinding: (p, a) => this.at.set(p, a),
      onEdges: (edges, schedule) => edges.forEach((edge, index) => this.keep({ edge, schedule, index })),
    };
  }

  findings(r: ExploreReport): ShardFinding[] {
    return r.findings.map((f) => ({ ...f, at: this.at.get(f.property) ?? 'step' }));
  }
}

/** The prefix of a sharded search, as plain data (a worker receives it). */
export interface Prefix {
  readonly report: ExploreReport;
  /** The search at the split layer; absent when the search ended (or was cut off) first. */
  readonly state?: SearchState;
  readonly at: Readonly<Partial<Record<PropertyName, FoundAt>>>;
  readonly edges: readonly KeyedEdge[];
}

/** The breadth-first prefix, to the first layer with NODES_PER_SHARD * n nodes, or to layer `depth`. */
export function explorePrefix(sc: Scenario, scheme: Scheme, n: number, limits: ShardLimits, depth?: number): Prefix {
  const rec = new Recorder();
  const split = (layer: number, d: number): boolean => (depth === undefined ? layer >= NODES_PER_SHARD * n : d >= depth);
  const report = explore(sc, scheme, { ...limits, checkpoint: true, shard: rec.hooks(split) });
  const { state, ...rest } = report;
  return { report: rest, ...(report.cutOff === 'split' && state !== undefined ? { state } : {}), at: Object.fromEntries(rec.at), edges: rec.edges };
}

const countsOf = (r: ExploreReport): Counts => ({ generated: r.statesGenerated, distinct: r.distinctStates, terminal: r.terminalStates, depth: r.depth });
const NONE: Counts = { generated: 0, distinct: 0, terminal: 0, depth: 0 };

/** Shard k of n of the search whose prefix is `prefix`: its nodes' subtrees, with its own visited set. */
export function exploreFromPrefix(sc: Scenario, scheme: Scheme, prefix: Prefix, spec: ShardSpec, limits: ShardLimits): ShardReport {
  const p = prefix.report;
  const common = { mode: 'shard' as const, k: spec.k, n: spec.n, scheme: p.scheme, kernel: p.kernel, tasks: p.tasks, maxStates: limits.maxStates, prefix: countsOf(p) };
  const rec = new Recorder(prefix);
  if (prefix.state === undefined) {
    return { ...common, split: null, exhausted: p.exhausted, ...(p.cutOff === undefined ? {} : { cutOff: p.cutOff }), own: NONE, findings: rec.findings(p), edges: rec.edges };
  }
  const s = prefix.state;
  const mine = s.layer.filter((_, i) => i % spec.n === spec.k - 1);
  const r = explore(sc, scheme, {
    maxStates: Math.max(0, limits.maxStates - s.generated),
    ...(limits.shouldStop === undefined ? {} : { shouldStop: limits.shouldStop }),
    ...(limits.pollEvery === undefined ? {} : { pollEvery: limits.pollEvery }),
    resume: { state: { ...s, layer: mine, next: [], skip: 0 }, file: `<shard ${spec.k}/${spec.n}>` },
    shard: rec.hooks(),
  });
  const own: Counts = { generated: r.statesGenerated - s.generated, distinct: r.distinctStates - p.distinctStates, terminal: r.terminalStates - p.terminalStates, depth: r.depth };
  return {
    ...common,
    split: { depth: p.depth, layer: s.layer.length, roots: mine.length },
    exhausted: r.exhausted,
    ...(r.cutOff === undefined ? {} : { cutOff: r.cutOff }),
    own,
    findings: rec.findings(r),
    edges: rec.edges,
  };
}

/** `check --shard k/n`: the prefix, then shard k's part. */
export function exploreShard(sc: Scenario, scheme: Scheme, spec: ShardSpec, limits: ShardLimits, depth?: number): ShardReport {
  return exploreFromPrefix(sc, scheme, explorePrefix(sc, scheme, spec.n, limits, depth), spec, limits);
}

/**
 * The order of discovery of one run, as a key compared lexicographically (a shorter key that is
 * a prefix of another comes first): first the prologue's findings, then layer by layer each node
 * in breadth-first order (the schedule's length, then its tasks' indices), its own findings
 * (a state's) before its steps', each step's in the checker's order, LockOrder after the other
 * checks of its step (Checker.check runs it last), and a wait-for cycle after them (explore
 * checks it after the checker).
 */
export type Key = readonly number[];

export function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function indexOf(tasks: readonly string[], name: string): number {
  const i = tasks.indexOf(name);
  if (i < 0) throw new InputError('<shard report>', null, 'schedule', `task ${showValue(name)} is not one of the scenario's`);
  return i;
}

/** The key of a step: the node it is taken from, then the task. */
export function stepKey(tasks: readonly string[], schedule: readonly string[]): number[] {
  const node = schedule.slice(0, -1);
  return [node.length, ...node.map((t) => indexOf(tasks, t)), indexOf(tasks, schedule[schedule.length - 1]!)];
}

/** A finding's key; `position` orders the prologue's findings (its place in the report). */
export function findingKey(tasks: readonly string[], f: ShardFinding, position: number): Key {
  if (f.at === 'prologue') return [-1, position];
  if (f.at === 'state') return [f.schedule.length, ...f.schedule.map((t) => indexOf(tasks, t)), -1];
  return [...stepKey(tasks, f.schedule), f.property === 'LockOrder' ? 1 : f.property === 'NoDeadlock' ? 2 : 0];
}

/** An edge's key: its step's, in LockOrder's place, then its place among the step's edges. */
export function edgeKey(tasks: readonly string[], e: KeyedEdge): Key {
  return [...stepKey(tasks, e.schedule), 1, e.index];
}
