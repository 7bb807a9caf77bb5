/**
 * The explorer behind `check`: every schedule of a scenario's tasks, breadth-first, each
 * distinct world expanded once (53-bit fingerprints of its kernel state, src/core/fingerprint.ts;
 * no expectation is checked here, so leaving them out of it merges no states whose futures
 * differ). Every property is checked on every transition and state; the first (so
 * shortest) schedule that breaks each property becomes a counterexample log with explicit step
 * records.
 *
 * Pure: no clock, no I/O. The CLI measures time and writes files.
 */
import { Checker, type Violation } from '../checks/properties.js';
import type { LockDetail } from '../checks/scenario.js';
import type { PropertyName } from '../vocab/properties.js';
import { leftovers, stuck, waitForCycle } from '../checks/liveness.js';
import { addToTask, applyStimulus, blockedOn, hasWork, scheduler, stepTask } from './engine.js';
import { worldHash } from '../core/fingerprint.js';

import { emptyWorld, type World } from '../core/world.js';
import { InputError, BadReference } from '../vocab/errors.js';
import type { LogItem } from '../log/reader.js';
import type { Header, Stimulus } from '../vocab/records.js';
import type { Scheme } from '../schemes/scheme.js';
import { cloneWorld } from '../core/clone.js';
import { releaseOf, type ReleaseName } from '../vocab/releases.js';

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
  /** Whether every reachable state was expanded (false: --max-states cut the search). */
  readonly exhausted: boolean;
  readonly lockEdges: number;
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
  readonly world: World;
  readonly index: number;
  readonly depth: number;
}

export interface ExploreOptions {
  readonly maxStates: number;
  /** Called every `progressEvery` generated states. */
  readonly onProgress?: (p: { generated: number; distinct: number; depth: number }) => void;
  readonly progressEvery?: number;
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

/** Explores every schedule of the scenario under the scheme. */
export function explore(sc: Scenario, scheme: Scheme, opts: ExploreOptions): ExploreReport {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  const checker = new Checker(false);
  const { world: start, violations: early } = initialWorld(sc, scheme, checker);
  const parent: number[] = [-1];
  const via: string[] = [''];
  const schedule = (index: number, last?: string): string[] => {
    const out: string[] = last === undefined ? [] : [last];
    for (let i = index; i > 0; i = parent[i]!) out.unshift(via[i]!);
    return out;
  };
  const findings = new Map<PropertyName, Finding>();
  const note = (v: { property: PropertyName; message: string } & LockDetail, sched: string[], seq = base + sched.length): void => {
    if (findings.has(v.property)) return;
    findings.set(v.property, { ...detailOf(v), property: v.property, message: v.message, schedule: sched, seq });
  };
  // Violations of the prologue are in every schedule: the log itself shows them.
  for (const v of early) note(v, [], v.seq);
  // every distinct lock-order cycle found; the finding reports them all
  const cycles = new Set<string>(early.filter((v) => v.property === 'LockOrder').map((v) => v.message));
  const visited = new Set<number>([worldHash(start)]);
  let frontier: Node[] = [{ world: start, index: 0, depth: 0 }];
  let generated = 1;
  let depth = 0;
  let terminal = 0;
  let exhausted = true;
  const every = opts.progressEvery ?? 5000;
  const sched = scheduler(scheme);
  const wait0 = waitForCycle(start, sched);
  if (wait0 !== null) note({ property: 'NoDeadlock', ...wait0 }, []);
  search: while (frontier.length > 0) {
    const next: Node[] = [];
    for (const node of frontier) {
      const enabled = enabledTasks(node.world, scheme);
      if (enabled.length === 0) {
        const s = stuck(node.world, sched);
        if (s !== null) note({ property: 'NoDeadlock', ...s }, schedule(node.index));
        else {
          terminal += 1;
          const left = leftovers(node.world, sched);
          if (left !== null) note({ property: 'TeardownCompletes', message: `every process exited but ${left} is left` }, schedule(node.index));
        }
        continue;
      }
      for (const name of enabled) {
        if (generated >= opts.maxStates) {
          exhausted = false;
          break search;
        }
        const w = cloneWorld(node.world);
        const seq = base + node.depth + 1;
        let st;
        try {
          st = stepTask(w, scheme, name, seq, release);
        } catch (e) {
          if (e instanceof BadReference) {
            const t = node.world.tasks.get(name)!;
            const s = (t.current ?? { stimulus: t.queue[0]! }).stimulus;
            throw new InputError(sc.file, s.line, e.field, e.detail);
          }
          throw e;
        }
        generated += 1;
        if (opts.onProgress !== undefined && generated % every === 0) opts.onProgress({ generated, distinct: visited.size, depth: node.depth + 1 });
        for (const v of checker.check(w, st.touched, seq)) {
          if (v.property === 'LockOrder') cycles.add(v.message);
          note(v, schedule(node.index, name));
        }
        const cycle = waitForCycle(w, sched);
        if (cycle !== null) note({ property: 'NoDeadlock', ...cycle }, schedule(node.index, name));
        const fp = worldHash(w);
        if (visited.has(fp)) continue;
        visited.add(fp);
        parent.push(node.index);
        via.push(name);
        next.push({ world: w, index: parent.length - 1, depth: node.depth + 1 });
        depth = Math.max(depth, node.depth + 1);
      }
    }
    frontier = next;
  }
  // A LockOrder cycle is found across schedules; its counterexample must show the whole cycle in
  // one history, so that replaying it reproduces the violation.
  let lo = findings.get('LockOrder');
  if (lo !== undefined && lo.schedule.length > 0) {
    const whole = historyWithCycle(sc, scheme, opts.maxStates);
    if (whole !== null) lo = whole;
  }
  if (lo !== undefined) {
    const others = [...cycles].filter((m) => m !== lo!.message);
    findings.set('LockOrder', others.length === 0 ? lo : { ...lo, message: `${lo.message} | also: ${others.join(' | ')}` });
  }
  const tasks = [...new Set(sc.taskRecords.map((s) => s.task!))];
  return {
    scheme: scheme.name,
    kernel: release.name,
    tasks,
    statesGenerated: generated,
    distinctStates: visited.size,
    depth,
    terminalStates: terminal,
    exhausted,
    lockEdges: checker.lockGraph.edgeCount(),
    findings: [...findings.values()],
  };
}

/**
 * The shortest schedule in whose own history the lock graph has a cycle (breadth-first over
 * worlds paired with the history's lock graph edges). Returns the finding re-based on it.
 */
function historyWithCycle(sc: Scenario, scheme: Scheme, maxStates: number): Finding | null {
  const base = stepSeqBase(sc);
  const release = releaseOf(sc.header);
  interface H {
    world: World;
    checker: Checker;
    sched: string[];
  }
  // The prologue's own edges count: replay sees them too.
  const first = new Checker(false);
  const start = initialWorld(sc, scheme, first).world;
  let frontier: H[] = [{ world: start, checker: first, sched: [] }];
  let generated = 0;
  const seen = new Set<string>();
  while (frontier.length > 0 && generated < maxStates) {
    const next: H[] = [];
    for (const h of frontier) {
      for (const name of enabledTasks(h.world, scheme)) {
        const w = cloneWorld(h.world);
        const checker = h.checker.fork();
        const seq = base + h.sched.length + 1;
        const st = stepTask(w, scheme, name, seq, release);
        generated += 1;
        const hit = checker.check(w, st.touched, seq).find((v) => v.property === 'LockOrder');
        const sched = [...h.sched, name];
        if (hit !== undefined) return { ...detailOf(hit), property: 'LockOrder', message: hit.message, schedule: sched, seq };
        const key = `${worldHash(w)}:${checker.lockGraph.edges().map((e) => `${e.from}>${e.to}`).sort().join(',')}`;
        if (seen.has(key)) continue;
        seen.add(key);
        next.push({ world: w, checker, sched });
      }
    }
    frontier = next;
  }
  return null;
}
