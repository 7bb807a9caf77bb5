/**
 * The explorer behind `check`: every schedule of a scenario's tasks, breadth-first, each
 * distinct world expanded once (53-bit fingerprints of its kernel state, src/core/hash.ts, on
 * copy-on-write successors, src/core/cow.ts, in a typed-array visited set, src/run/visited.ts;
 * no expectation is checked here, so leaving them out of it merges no states whose futures
 * differ). Every property is checked on every transition and state; the first (so
 * shortest) schedule that breaks each property becomes a counterexample log with explicit step
 * records.
 *
 * A search can be cut off (--max-states, or a limit `shouldStop` reports) and continued: the
 * report then carries the search's state as plain data (SearchState), and `resume` picks it up
 * where it stopped, so that a search run in pieces gives what one run gives.
 *
 * Pure: no clock, no I/O. The CLI measures time and memory and writes files.
 */
import { Checker, type Violation } from '../checks/properties.js';
import type { LockDetail } from '../checks/scenario.js';
import { LockGraph } from '../checks/lockdep.js';
import type { LockEdge } from '../core/tx.js';
import type { PropertyName } from '../vocab/properties.js';
import { leftovers, stuck, waitForCycle } from '../checks/liveness.js';
import { addToTask, applyStimulus, blockedOn, hasWork, scheduler, stepTask, type Stepped } from './engine.js';
import { stateHash } from '../core/hash.js';
import { VisitedSet } from './visited.js';
import { stateSpace, type FingerprintMode, type StateSpace } from '../core/states.js';

import { emptyWorld, type World } from '../core/world.js';
import { InputError, BadReference } from '../vocab/errors.js';
import type { LogItem } from '../log/reader.js';
import type { Header, Stimulus } from '../vocab/records.js';
import type { Scheme } from '../schemes/scheme.js';
import { cloneWorld } from '../core/clone.js';
import { releaseOf, type KernelRelease, type ReleaseName } from '../vocab/releases.js';
import { SleepSets, type ReductionState } from './reduction.js';
import { canonicalize } from '../core/symmetry.js';

/** A property's first violation, with lockdep's scenario for a lock finding (src/checks/scenario.ts). */
export interface Finding extends LockDetail {
  readonly property: PropertyName;
  readonly message: string;
  /** The task stepped at each step of the shortest schedule that shows it. */
  readonly schedule: readonly string[];
  /** The seq of the record it is reported at in the counterexample log. */
  readonly seq: number;
}

export interface ExploreReport {
  readonly scheme: string;
  /** The kernel release the scenario modelled (its header's `kernel`, or the latest). */
  readonly kernel: ReleaseName;
  readonly tasks: readonly string[];
  readonly statesGenerated: number;
  readonly distinctStates: number;
  readonly depth: number;
  readonly terminalStates: number;
  /** Whether every reachable state was expanded (false: a limit cut the search). */
  readonly exhausted: boolean;
  /** What cut the search off: `--max-states`, or the reason `shouldStop` gave. */
  readonly cutOff?: string;
  /** For a resumed search: the states generated before this run. */
  readonly resumedAt?: number;
  /** With `checkpoint`, a search cut off: where it stood (ExploreOptions.resume continues it). */
  readonly state?: SearchState;
  readonly lockEdges: number;
  /** Whether partial-order reduction (sleep sets, src/run/reduction.ts) was on, and the transitions it did not take. */
  readonly reduction?: boolean;
  readonly pruned?: number;
  /** Whether symmetry reduction (src/core/symmetry.ts) was on. */
  readonly symmetry?: boolean;
  /** With `edges`: the lock graph over every explored step (each class pair's first witness). */
  readonly graph?: readonly LockEdge[];
  readonly findings: readonly Finding[];
}

export interface Scenario {
  readonly header: Header;
  /** Records without a task, run in order before any task moves. */
  readonly prologue: readonly Stimulus[];
  /** Records with a task, in log order. */
  readonly taskRecords: readonly Stimulus[];
  readonly file: string;
}

/** Splits a log into a scenario; a log with step records is a recorded schedule, not a scenario. */
export function scenarioOf(header: Header, items: readonly LogItem[], file: string): Scenario {
  const prologue: Stimulus[] = [];
  const taskRecords: Stimulus[] = [];
  for (const it of items) {
    if (it.kind !== 'stimulus') continue;
    const s = it.stimulus;
    if (s.op === 'step') throw new InputError(file, s.line, 'op', 'a log with step records is a recorded schedule: replay it; check explores the schedules of a scenario itself');
    if (s.task !== undefined) taskRecords.push(s);
    else prologue.push(s);
  }
  return { header, prologue, taskRecords, file };
}

/**
 * The world after the prologue, with every task queued. The checker sees the prologue's records
 * as replay does; the violations they show are returned with their record's seq.
 */
export function initialWorld(sc: Scenario, scheme: Scheme, checker: Checker): { world: World; violations: Violation[] } {
  const w = emptyWorld();
  const violations: Violation[] = [];
  const release = releaseOf(sc.header);
  for (const s of sc.prologue) {
    try {
      violations.push(...checker.check(w, applyStimulus(w, scheme, s, release).touched, s.seq));
    } catch (e) {
      if (e instanceof BadReference) throw new InputError(sc.file, s.line, e.field, e.detail);
      throw e;
    }
  }
  for (const s of sc.taskRecords) addToTask(w, s);
  return { world: w, violations };
}

/** The seq numbering of a counterexample log: step k (from 1) is record base + k. */
export function stepSeqBase(sc: Scenario): number {
  let max = 0;
  for (const s of [...sc.prologue, ...sc.taskRecords]) max = Math.max(max, s.seq);
  return max;
}

interface Node {
  /** Null for a node a resumed search has not re-derived yet, or one already expanded. */
  world: World | null;
  readonly index: number;
  readonly depth: number;
}

/**
 * Where a cut-off search stood, as plain data independent of object identity: enough for
 * `explore`'s `resume` to continue it exactly as one uninterrupted run would have. It holds no
 * worlds: each node still to expand is a schedule (its path in the tree from the initial world),
 * re-derived by replaying it.
 */
export interface SearchState {
  /** Every distinct state's fingerprint, ascending. */
  readonly visited: readonly number[];
  /**
   * The schedule tree, pruned to the ancestors of the nodes still to expand: node 0 is the
   * initial world, node i > 0 is node parent[i] after one step of task tasks[task[i]] (the
   * report's `tasks`); a parent comes before its children.
   */
  readonly parent: readonly number[];
  readonly task: readonly number[];
  /** The nodes of the layer being expanded that are not done, in order; the first had its first `skip` enabled tasks stepped. */
  readonly layer: readonly number[];
  readonly skip: number;
  /** The next layer, as far as it was found. */
  readonly next: readonly number[];
  readonly generated: number;
  readonly depth: number;
  readonly terminal: number;
  /** Each property's first violation so far, in the order found, and every lock-order cycle seen. */
  readonly findings: readonly Finding[];
  readonly cycles: readonly string[];
  /** The lock graph over every step so far, in its insertion order. */
  readonly lockEdges: readonly LockEdge[];
  /** With reduction: the sleep sets of the nodes still to expand (src/run/reduction.ts). */
  readonly reduction?: ReductionState;
}

export interface ExploreOptions {
  /** The states this run may generate (a resumed run counts from where it resumed). */
  readonly maxStates: number;
  /** Called every `progressEvery` generated states. */
  readonly onProgress?: (p: { generated: number; distinct: number; depth: number }) => void;
  readonly progressEvery?: number;
  /**
   * Asked every `pollEvery` generated states (default 16) whether to stop, for limits the
   * explorer cannot see (memory, time): the reason to stop (`memory limit 1.6 GiB reached`), or null.
   */
  readonly shouldStop?: () => string | null;
  readonly pollEvery?: number;
  /** Keep the search's state in the report when the search is cut off (`resume` continues it). */
  readonly checkpoint?: boolean;
  /** Continue a cut-off search; `file` names where the state came from, for errors. */
  readonly resume?: { readonly state: SearchState; readonly file: string };
  /** Keep the lock graph's edges in the report (`graph`), for `lockdep` (src/run/lockdep.ts). */
  readonly edges?: boolean;
  /** How successors are made and fingerprinted (src/core/states.ts); both merge the same states. */
  readonly fingerprints?: FingerprintMode;
  /** Called with every successor generated, once stepped (never written again), its fingerprint and its parent (the tests). */
  readonly onState?: (w: World, fingerprint: number, parent: World) => void;
  /**
   * Partial-order reduction by sleep sets (default off; `check --reduction`). Its footprint
   * tracking writes through the successor it steps, so it runs on deep-copied successors
   * (fingerprints 'reference'), never on copy-on-write ones that share objects with their parent.
   */
  readonly reduction?: boolean;
  /**
   * Symmetry reduction (default off; `check --symmetry`): each successor is renamed into the
   * representative of the worlds equal to it up to vfio_dma ids and RAM addresses
   * (src/core/symmetry.ts). Findings are re-derived on the unrenamed model (realFindings).
   */
  readonly symmetry?: boolean;
  /** Hooks of `check --shard` and `merge` (src/run/shard.ts); absent in a plain search. */
  readonly shard?: ShardHooks;
}

/** What a shard of the search (src/run/shard.ts) needs from the explorer. */
export interface ShardHooks {
  /** Asked when a layer is complete: cut the search off there (cutOff 'split', with its state). */
  readonly splitAt?: (layer: number, depth: number) => boolean;
  /** Each property's first finding, as it is noted: of the prologue, of a state, or of a step. */
  readonly onFinding?: (property: PropertyName, at: 'prologue' | 'state' | 'step') => void;
  /** A step's lock edges the graph does not have yet, and the step's schedule. */
  readonly onEdges?: (edges: readonly LockEdge[], schedule: readonly string[]) => void;
  /** Leave the LockOrder finding as the search found it (merge searches for its history). */
  readonly noLockHistory?: boolean;
}

function enabledTasks(w: World, scheme: Scheme): string[] {
  const out: string[] = [];
  for (const t of w.tasks.values()) if (hasWork(t) && blockedOn(w, scheme, t) === null) out.push(t.name);
  return out;
}

/** The scenario and chain of a violation, when it has them. */
function detailOf(v: LockDetail): LockDetail {
  return { ...(v.scenario === undefined ? {} : { scenario: v.scenario }), ...(v.chain === undefined ? {} : { chain: v.chain }) };
}

/** A state's key in the visited set: the hash of its kernel state alone (src/core/hash.ts). */
export function fingerprintOf(w: World): number {
  return stateHash(w);
}

/** The scenario's tasks, in the order of their first record: the report's `tasks`. */
function taskNames(sc: Scenario): string[] {
  return [...new Set(sc.taskRecords.map((s) => s.task!))];
}

/** A step of a task, its BadReference named by the record the task is running (bad input). */
function step(sc: Scenario, scheme: Scheme, w: World, name: string, seq: number, release: KernelRelease): Stepped {
  try {
    return stepTask(w, scheme, name, seq, release);
  } catch (e) {
    if (e instanceof BadReference) {
      const t = w.tasks.get(name)!;
      const s = (t.current ?? { stimulus: t.queue[0]! }).stimulus;
      throw new InputError(sc.file, s.line, e.field, e.detail);
    }
    throw e;
  }
}

/** Explores every schedule of the scenario under the scheme (or the rest of a cut-off search). */
export function explore(sc: Scenario, scheme: Scheme, opts: ExploreOptions): ExploreReport {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  const tasks = taskNames(sc);
  const checker = new Checker(false);
  const { world: first, violations: early } = initialWorld(sc, scheme, checker);
  if (opts.symmetry === true) canonicalize(first);
  const space = stateSpace(opts.reduction === true ? 'reference' : opts.fingerprints);
  const root = space.root(first);
  const start = root.world;
  const resumed = opts.resume?.state;
  // The schedule tree: node i is parent[i] after one step of tasks[via[i]].
  const parent: number[] = resumed === undefined ? [-1] : [...resumed.parent];
  const via: number[] = resumed === undefined ? [-1] : [...resumed.task];
  const path = (index: number): number[] => {
    const out: number[] = [];
    for (let i = index; i > 0; i = parent[i]!) out.unshift(i);
    return out;
  };
  const schedule = (index: number, last?: string): string[] => [...path(index).map((i) => tasks[via[i]!]!), ...(last === undefined ? [] : [last])];
  const findings = new Map<PropertyName, Finding>((resumed?.findings ?? []).map((f) => [f.property, f]));
  const note = (v: { property: PropertyName; message: string } & LockDetail, sched: string[], seq = base + sched.length, at: 'prologue' | 'state' | 'step' = 'step'): void => {
    if (findings.has(v.property)) return;
    opts.shard?.onFinding?.(v.property, at);
    findings.set(v.property, { ...detailOf(v), property: v.property, message: v.message, schedule: sched, seq });
  };
  // every distinct lock-order cycle found; the finding reports them all
  const cycles = new Set<string>(resumed?.cycles ?? []);
  const visited = VisitedSet.of(resumed?.visited ?? [root.fingerprint]);
  let frontier: Node[];
  let next: Node[];
  let skip = resumed?.skip ?? 0;
  let generated = resumed?.generated ?? 1;
  let depth = resumed?.depth ?? 0;
  let terminal = resumed?.terminal ?? 0;
  const sched = scheduler(scheme);
  if (resumed === undefined) {
    // Violations of the prologue are in every schedule: the log itself shows them.
    for (const v of early) note(v, [], v.seq, 'prologue');
    for (const v of early) if (v.property === 'LockOrder') cycles.add(v.message);
    const wait0 = waitForCycle(start, sched);
    if (wait0 !== null) note({ property: 'NoDeadlock', ...wait0 }, [], base, 'state');
    frontier = [{ world: start, index: 0, depth: 0 }];
    next = [];
  } else {
    checker.lockGraph = new LockGraph();
    for (const e of resumed.lockEdges) checker.lockGraph.add(e);
    const pending = (index: number): Node => ({ world: null, index, depth: path(index).length });
    frontier = resumed.layer.map(pending);
    next = resumed.next.map(pending);
  }
  const derive = opts.resume === undefined ? null : deriver(sc, scheme, space, start, visited, opts.resume.file);
  // A fresh search's budget counts the initial state, as --max-states always has.
  const startGenerated = resumed?.generated ?? 0;
  const red =
    opts.reduction !== true
      ? null
      : new SleepSets(
          (w, raw, name, d) => void new Checker(false).check(w, step(sc, scheme, w, name, base + d + 1, release).touched, base + d + 1, raw),
          cloneWorld,
          resumed?.reduction === undefined ? undefined : { state: resumed.reduction, layer: frontier.map((n) => n.index), next: next.map((n) => n.index) },
        );
  const every = opts.progressEvery ?? 5000;
  const pollEvery = opts.pollEvery ?? 16;
  let cutOff: string | null = null;
  search: while (frontier.length > 0) {
    for (let at = 0; at < frontier.length; at += 1) {
      const node = frontier[at]!;
      const world = node.world ?? derive!(schedule(node.index));
      const enabled = enabledTasks(world, scheme);
      if (enabled.length === 0) {
        const end = endState(world, sched);
        if (end.violation !== null) note(end.violation, schedule(node.index), undefined, 'state');
        if (end.terminal) terminal += 1;
        node.world = null;
        continue;
      }
      const from = at === 0 ? skip : 0;
      red?.begin(node.index, world, node.depth, enabled.slice(0, from));
      for (let j = from; j < enabled.length; j += 1) {
        if (red?.asleep(enabled[j]!) === true) continue;
        const ran = generated - startGenerated;
        cutOff = ran >= opts.maxStates ? '--max-states' : generated % pollEvery === 0 ? (opts.shouldStop?.() ?? null) : null;
        if (cutOff !== null) {
          frontier = frontier.slice(at);
          skip = j;
          break search;
        }
        const name = enabled[j]!;
        const w = space.child(world);
        // with reduction, the step and its checks run on a view that records their footprint
        const tw = red?.track(world, w) ?? w;
        const seq = base + node.depth + 1;
        const st = step(sc, scheme, tw, name, seq, release);
        generated += 1;
        if (opts.onProgress !== undefined && generated % every === 0) opts.onProgress({ generated, distinct: visited.size, depth: node.depth + 1 });
        if (opts.shard?.onEdges !== undefined) {
          const fresh = st.touched.lockEdges.filter((e) => !checker.lockGraph.has(e));
          if (fresh.length > 0) opts.shard.onEdges(fresh, schedule(node.index, name));
        }
        const found = checker.check(tw, st.touched, seq, w);
        red?.stepped(name);
        for (const v of found) {
          if (v.property === 'LockOrder') cycles.add(v.message);
          note(v, schedule(node.index, name));
        }
        const cycle = waitForCycle(w, sched);
        if (cycle !== null) note({ property: 'NoDeadlock', ...cycle }, schedule(node.index, name));
        if (opts.symmetry === true) canonicalize(w);
        const fp = space.close(w, world);
        opts.onState?.(w, fp, world);
        if (!visited.add(fp)) {
          red?.seen(fp);
          continue;
        }
        parent.push(node.index);
        via.push(tasks.indexOf(name));
        next.push({ world: w, index: parent.length - 1, depth: node.depth + 1 });
        red?.added(fp, parent.length - 1);
        depth = Math.max(depth, node.depth + 1);
      }
      // An expanded node's world is not needed again: let it go before the layer ends.
      node.world = null;
      red?.end(node.index);
    }
    red?.layerDone();
    frontier = next;
    next = [];
    skip = 0;
    if (frontier.length > 0 && opts.shard?.splitAt?.(frontier.length, frontier[0]!.depth) === true) {
      cutOff = 'split';
      break;
    }
  }
  const state: SearchState | undefined =
    cutOff === null || opts.checkpoint !== true
      ? undefined
      : {
          ...prunedTree(parent, via, frontier, next),
          visited: visited.sorted(),
          skip,
          generated,
          depth,
          terminal,
          findings: [...findings.values()],
          cycles: [...cycles],
          lockEdges: checker.lockGraph.edges(),
          ...(red === null ? {} : { reduction: red.save(frontier.map((n) => n.index), next.map((n) => n.index)) }),
        };
  // The worlds still queued are in `state` as schedules: free them for the history search below.
  frontier = [];
  next = [];
  // A LockOrder cycle is found across schedules; its counterexample must show the whole cycle in
  // one history, so that replaying it reproduces the violation. Its budget is the larger of this
  // run's and the whole search's states, so that a search run in pieces finds what one run finds.
  let lo = findings.get('LockOrder');
  if (lo !== undefined && lo.schedule.length > 0 && opts.shard?.noLockHistory !== true) {
    const whole = historyWithCycle(sc, scheme, Math.max(opts.maxStates, generated), opts.shouldStop ?? (() => null), pollEvery);
    if (whole !== null) lo = whole;
  }
  if (lo !== undefined) {
    const others = [...cycles].filter((m) => m !== lo!.message);
    findings.set('LockOrder', others.length === 0 ? lo : { ...lo, message: `${lo.message} | also: ${others.join(' | ')}` });
  }
  return {
    scheme: scheme.name,
    kernel: release.name,
    tasks,
    statesGenerated: generated,
    distinctStates: visited.size,
    depth,
    terminalStates: terminal,
    exhausted: cutOff === null,
    ...(cutOff === null ? {} : { cutOff }),
    ...(resumed === undefined ? {} : { resumedAt: resumed.generated }),
    ...(state === undefined ? {} : { state }),
    lockEdges: checker.lockGraph.edgeCount(),
    reduction: red !== null,
    pruned: red?.pruned ?? 0,
    ...(opts.edges === true ? { graph: checker.lockGraph.edges() } : {}),
    ...(opts.symmetry === true ? { symmetry: true } : {}),
    findings: opts.symmetry === true ? realFindings(sc, scheme, [...findings.values()]) : [...findings.values()],
  };
}

/**
 * A state where no task can step: a deadlock (some task is stuck), or a terminal state, which
 * violates TeardownCompletes if something outlived every process.
 */
function endState(w: World, sched: ReturnType<typeof scheduler>): { readonly terminal: boolean; readonly violation: ({ property: PropertyName; message: string } & LockDetail) | null } {
  const s = stuck(w, sched);
  if (s !== null) return { terminal: false, violation: { property: 'NoDeadlock', ...s } };
  const left = leftovers(w, sched);
  return { terminal: true, violation: left === null ? null : { property: 'TeardownCompletes', message: `every process exited but ${left} is left` } };
}

/**
 * A symmetric search found its violations on renamed worlds (src/core/symmetry.ts): the same
 * schedule run on the model as it is shows the same violation, with the dma ids and addresses a
 * replay of the counterexample prints. Each finding's message and lock detail are taken from
 * that run; its schedule and seq stay.
 */
function realFindings(sc: Scenario, scheme: Scheme, found: readonly Finding[]): Finding[] {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  const sched = scheduler(scheme);
  return found.map((f) => {
    if (f.schedule.length === 0) return f;
    const checker = new Checker(false);
    const w = initialWorld(sc, scheme, checker).world;
    let last: Array<{ property: PropertyName; message: string } & LockDetail> = [];
    f.schedule.forEach((name, k) => {
      const st = step(sc, scheme, w, name, base + k + 1, release);
      last = checker.check(w, st.touched, base + k + 1);
    });
    const cycle = waitForCycle(w, sched);
    if (cycle !== null) last.push({ property: 'NoDeadlock', ...cycle });
    const end = enabledTasks(w, scheme).length === 0 ? endState(w, sched).violation : null;
    if (end !== null) last.push(end);
    const v = last.find((x) => x.property === f.property);
    return v === undefined || f.property === 'LockOrder' ? f : { ...f, ...detailOf(v), message: v.message };
  });
}

/**
 * Re-derives the world at the end of a resumed search's schedule by replaying it from the
 * initial world, keeping the worlds along the last schedule derived: a layer's nodes come in
 * tree order, so each costs about one step. A world the search never saw means the checkpoint
 * (`file`) is of another build of the model.
 */
function deriver(sc: Scenario, scheme: Scheme, space: StateSpace, start: World, visited: VisitedSet, file: string): (schedule: readonly string[]) => World {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  let last: readonly string[] = [];
  const worlds: World[] = [start];
  return (s) => {
    let common = 0;
    while (common < s.length && common < last.length && s[common] === last[common]) common += 1;
    worlds.length = common + 1;
    let fp: number | null = null;
    for (let k = common; k < s.length; k += 1) {
      const w = space.child(worlds[k]!);
      step(sc, scheme, w, s[k]!, base + k + 1, release);
      fp = space.close(w, worlds[k]!);
      worlds.push(w);
    }
    last = s;
    const w = worlds[s.length]!;
    if (fp !== null && !visited.has(fp)) {
      throw new InputError(file, null, 'layer', `the schedule ${s.join(' ') || '(none)'} reaches a state the search never saw: the checkpoint was written by another build of the model`);
    }
    return w;
  };
}

/** The schedule tree pruned to the ancestors of the nodes still to expand, renumbered in order. */
function prunedTree(parent: readonly number[], via: readonly number[], layer: readonly Node[], next: readonly Node[]): Pick<SearchState, 'parent' | 'task' | 'layer' | 'next'> {
  const keep = new Set<number>([0]);
  for (const n of [...layer, ...next]) for (let i = n.index; !keep.has(i); i = parent[i]!) keep.add(i);
  const order = [...keep].sort((a, b) => a - b);
  const renumbered = new Map(order.map((old, i) => [old, i]));
  const at = (i: number): number => renumbered.get(i)!;
  return {
    parent: order.map((i) => (i === 0 ? -1 : at(parent[i]!))),
    task: order.map((i) => via[i]!),
    layer: layer.map((n) => at(n.index)),
    next: next.map((n) => at(n.index)),
  };
}

/**
 * The shortest schedule in whose own history the lock graph has a cycle (breadth-first over
 * worlds paired with the history's lock graph edges). Returns the finding re-based on it, or
 * null when `maxStates` or `shouldStop` ends the search first.
 */
export function historyWithCycle(sc: Scenario, scheme: Scheme, maxStates: number, shouldStop: () => string | null, pollEvery: number): Finding | null {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  interface H {
    world: World;
    checker: Checker;
    sched: string[];
  }
  // The prologue's own edges count: replay sees them too.
  const first = new Checker(false);
  const space = stateSpace();
  const start = space.root(initialWorld(sc, scheme, first).world).world;
  let frontier: H[] = [{ world: start, checker: first, sched: [] }];
  let generated = 0;
  const seen = new Set<string>();
  while (frontier.length > 0 && generated < maxStates) {
    const next: H[] = [];
    for (const h of frontier) {
      for (const name of enabledTasks(h.world, scheme)) {
        if (generated % pollEvery === 0 && shouldStop() !== null) return null;
        const w = space.child(h.world);
        const checker = h.checker.fork();
        const seq = base + h.sched.length + 1;
        const st = stepTask(w, scheme, name, seq, release);
        const fp = space.close(w, h.world);
        generated += 1;
        const hit = checker.check(w, st.touched, seq).find((v) => v.property === 'LockOrder');
        const sched = [...h.sched, name];
        if (hit !== undefined) return { ...detailOf(hit), property: 'LockOrder', message: hit.message, schedule: sched, seq };
        const key = `${fp}:${checker.lockGraph.edges().map((e) => `${e.from}>${e.to}`).sort().join(',')}`;
        if (seen.has(key)) continue;
        seen.add(key);
        next.push({ world: w, checker, sched });
      }
    }
    frontier = next;
  }
  return null;
}
