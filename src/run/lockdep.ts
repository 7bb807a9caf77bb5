/**
 * `lockdep`'s computation: the model's lock-class graph under a scheme, over every schedule of
 * every scenario given (each explored up to a bound, as the demo does), and a lockdep report
 * related to it: each dependency of the report's cycle between two modelled classes, found or
 * missing, with the scenario, task and kernel path that gives it; and the model's own cycle
 * through those classes, as a LockOrder finding shows one. Pure: scenarios in, data out.
 */
import type { LockEdge } from '../core/tx.js';
import { cycleDetail } from '../checks/lockdep.js';
import type { ChainLink, LockDetail } from '../checks/scenario.js';
import type { Scheme } from '../schemes/scheme.js';
import type { LockClass } from '../vocab/locks.js';
import { classOf, type ClassMatch } from '../import/lockdep-classes.js';
import type { LockdepReport } from '../import/lockdep.js';
import { explore, type Scenario } from './explore.js';
import { setupFailure } from './verdicts.js';
import type { LogItem } from '../log/reader.js';

/** How many states `lockdep` explores of each scenario at most, by default. */
export const LOCKDEP_MAX_STATES = 20000;

/** An edge of the model's graph, with the scenario whose exploration recorded it. */
export interface Witness {
  readonly scenario: string;
  readonly edge: LockEdge;
  /** The edge as a finding's chain shows it: lockdep names, task, step, kernel function. */
  readonly link: ChainLink;
}

/** A scenario's LockOrder finding: the model's own cycle. */
export interface ModelCycle {
  readonly scenario: string;
  /** The classes of the cycle (model ids), in the finding's order. */
  readonly classes: readonly string[];
  readonly detail: LockDetail;
  readonly message: string;
}

export interface ModelGraph {
  readonly scheme: string;
  /** `from>to` (model class ids) -> the witnesses, one per scenario, in scenario order. */
  readonly edges: ReadonlyMap<string, readonly Witness[]>;
  readonly cycles: readonly ModelCycle[];
  /** Scenarios explored and how: exhausted, cut off by the bound, or not run (and why). */
  readonly scenarios: ReadonlyArray<{ readonly name: string; readonly states: number; readonly exhausted: boolean; readonly skipped?: string }>;
}

export interface ScenarioIn {
  readonly name: string;
  readonly scenario: Scenario;
  readonly items: readonly LogItem[];
}

const key = (from: string, to: string): string => `${from}>${to}`;

/** The model's lock-class graph under `scheme`: every scenario explored up to `maxStates`. */
export function modelGraph(scenarios: readonly ScenarioIn[], scheme: Scheme, maxStates = LOCKDEP_MAX_STATES): ModelGraph {
  const edges = new Map<string, Witness[]>();
  const cycles: ModelCycle[] = [];
  const explored: Array<ModelGraph['scenarios'][number]> = [];
  for (const { name, scenario, items } of scenarios) {
    // A scheme that refuses the set-up (noiommu has no group file) exercises nothing (verdicts.ts).
    const setup = setupFailure(scenario.header, items, scenario.file, scheme);
    if (setup !== null) {
      explored.push({ name, states: 0, exhausted: false, skipped: `its set-up fails under ${scheme.name} (record ${setup.seq}, ${setup.op})` });
      continue;
    }
    const r = explore(scenario, scheme, { maxStates, edges: true });
    explored.push({ name, states: r.statesGenerated, exhausted: r.exhausted });
    for (const e of r.graph ?? []) {
      const k = key(e.from, e.to);
      const list = edges.get(k) ?? [];
      list.push({ scenario: name, edge: e, link: cycleDetail([e]).chain![0]! });
      edges.set(k, list);
    }
    const lo = r.findings.find((f) => f.property === 'LockOrder');
    if (lo !== undefined && lo.chain !== undefined) {
      const classes = lo.message.replace(/^lock-order cycle /, '').split(';')[0]!.split(' -> ');
      cycles.push({ scenario: name, classes: classes.slice(0, -1), detail: { ...(lo.scenario === undefined ? {} : { scenario: lo.scenario }), chain: lo.chain }, message: lo.message });
    }
  }
  return { scheme: scheme.name, edges, cycles, scenarios: explored };
}

/** One dependency of the report: `to` taken while `from` was held. */
export interface ReportEdge {
  readonly from: ClassMatch;
  readonly to: ClassMatch;
  /** found: the model has it; missing: both classes are modelled, the edge is not; unmodelled: a class is not. */
  readonly status: 'found' | 'missing' | 'unmodelled';
  readonly witnesses: readonly Witness[];
}

export interface Relation {
  readonly kind: LockdepReport['kind'];
  /** Every class of the report (cycle, or the lock and what was held), matched. */
  readonly classes: readonly ClassMatch[];
  /**
   * The report's dependencies, for a circular report (none otherwise): edges[k] is #k taken
   * holding #k-1, edges[0] the closing one, #0 taken holding #N.
   */
  readonly edges: readonly ReportEdge[];
  /** The model has every dependency of the report's cycle. */
  readonly found: boolean;
  /** The model's cycle through the report's modelled classes: a scenario's finding, or the found edges. */
  readonly cycle: ModelCycle | null;
  /** The scenario to check (a cycle's), and whether one scenario gives the whole cycle. */
  readonly scenario: string | null;
  readonly why: string;
}

/** The functions a report shows at its `i`th cycle class: the chain entry's stack and `at:`. */
function functionsAt(r: LockdepReport, printed: string): string[] {
  const fns: string[] = [];
  for (const e of r.chain) if (e.lock.printed === printed) fns.push(...e.stack);
  for (const l of [r.lock, r.holding, ...r.held]) if (l !== undefined && l.printed === printed && l.at !== undefined) fns.push(l.at);
  return fns;
}

function match(r: LockdepReport, printed: string, name: string): ClassMatch {
  return classOf(name, printed, functionsAt(r, printed));
}

/** Relates a report to the model's graph. */
export function relate(r: LockdepReport, g: ModelGraph): Relation {
  const nameOf = new Map<string, string>();
  for (const l of [r.lock, r.holding, ...r.held, ...r.chain.map((e) => e.lock)]) if (l !== undefined) nameOf.set(l.printed, l.name);
  const classOfPrinted = (p: string): ClassMatch => match(r, p, nameOf.get(p) ?? p);
  if (r.kind !== 'circular') {
    const classes = [...new Set([r.lock.printed, ...(r.holding === undefined ? [] : [r.holding.printed]), ...r.held.map((h) => h.printed)])].map(classOfPrinted);
    const why =
      r.kind === 'recursive'
        ? 'a recursive acquisition of one class (check_deadlock): the model records no dependency of a class on itself, so there is no cycle to look for'
        : r.kind === 'inconsistent'
          ? 'an irq-usage conflict (mark_lock_irq): the model has no interrupt contexts, so there is no cycle to look for'
          : 'memory freed with a lock held in it (debug_check_no_locks_freed): not a lock-order report; the model checks use after free as KernelUseAfterFree';
    return { kind: r.kind, classes, edges: [], found: false, cycle: null, scenario: null, why };
  }
  const cyc = r.cycle.map(classOfPrinted);
  const edges: ReportEdge[] = cyc.map((to, k): ReportEdge => {
    const from = cyc[(k + cyc.length - 1) % cyc.length]!;
    if (from.model === null || to.model === null) return { from, to, status: 'unmodelled', witnesses: [] };
    const w = g.edges.get(key(from.model, to.model)) ?? [];
    return { from, to, status: w.length > 0 ? 'found' : 'missing', witnesses: w };
  });
  const found = edges.every((e) => e.status === 'found');
  const modelled = new Set(cyc.flatMap((c) => (c.model === null ? [] : [c.model as string])));
  const own = g.cycles.find((c) => c.classes.length === modelled.size && c.classes.every((x) => modelled.has(x))) ?? g.cycles.find((c) => modelled.size > 1 && [...modelled].every((x) => c.classes.includes(x))) ?? null;
  let cycle: ModelCycle | null = own;
  let scenario: string | null = own?.scenario ?? null;
  if (cycle === null && found) {
    // Every edge is in the model, but no scenario's finding closes this cycle: the cycle from the edges.
    const es = edges.map((e) => e.witnesses[0]!.edge);
    const single = [...new Set(edges.flatMap((e) => e.witnesses.map((w) => w.scenario)))].find((s) => edges.every((e) => e.witnesses.some((w) => w.scenario === s))) ?? null;
    cycle = { scenario: single ?? '(several scenarios)', classes: es.map((e) => e.from), detail: cycleDetail(es), message: '' };
    scenario = single;
  }
  const unmodelled = cyc.filter((c) => c.model === null).map((c) => c.printed);
  const missing = edges.filter((e) => e.status === 'missing');
  const why = found
    ? scenario !== null
      ? `every dependency of the cycle is in the model under ${g.scheme}; scenario ${scenario} reaches it`
      : `every dependency of the cycle is in the model under ${g.scheme}, but from different scenarios: none reaches the whole cycle`
    : [
        ...(unmodelled.length > 0 ? [`not modelled: ${[...new Set(unmodelled)].join(', ')}`] : []),
        ...(missing.length > 0 ? [`missing from the model under ${g.scheme}: ${missing.map((e) => `${e.from.printed} -> ${e.to.printed}`).join(', ')}`] : []),
      ].join('; ');
  return { kind: r.kind, classes: cyc, edges, found, cycle, scenario, why };
}

/** The model classes a relation names (for callers that list them). */
export function modelClasses(rel: Relation): LockClass[] {
  return [...new Set(rel.classes.flatMap((c) => (c.model === null ? [] : [c.model])))];
}
