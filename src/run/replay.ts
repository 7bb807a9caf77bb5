/**
 * Replay: fold a log into a world, compare every outcome with its expectation and every
 * recorded derived record with the recomputed one, and check the properties after each record.
 * Pure: the caller feeds items (the CLI streams them from a file) and reads the report.
 */
import { Checker, type Violation } from '../checks/properties.js';
import { addToTask, applyStimulus, blockedOn, hasWork, scheduler, stepTask, type Emitted } from './engine.js';
import { leftovers, stuck, waitForCycle } from '../checks/liveness.js';
import { fingerprint } from '../core/fingerprint.js';
import { type Outcome, type Touched } from '../core/tx.js';
import { emptyWorld, type World } from '../core/world.js';
import { InputError, BadReference, ModelError, showValue } from '../vocab/errors.js';
import type { LogItem } from '../log/reader.js';
import type { Derived, Expect, Header, JsonValue, Stimulus } from '../vocab/records.js';
import { own } from '../log/json.js';
import { hex, u64Text } from '../log/u64.js';
import { type Scheme } from '../schemes/scheme.js';
import { builtinScheme } from '../schemes/catalogue.js';
import { PATHS, pathNameFor, type PathName } from '../paths/index.js';
import { initialState, isFinal } from '../core/stepper.js';
import { releaseOf, type KernelRelease, type ReleaseName } from '../vocab/releases.js';

export interface Divergence {
  readonly seq: number;
  /** The record: its op and line in the log. */
  readonly op: string;
  readonly line: number;
  readonly expected: JsonValue;
  readonly actual: JsonValue;
  /** The kernel check that decided the actual outcome. */
  readonly decidedBy: string;
}

/** The outcome as JSON, in the shape of an expectation (docs/log-format.md). */
export function outcomeJson(o: Outcome): { [k: string]: JsonValue } {
  const j: { [k: string]: JsonValue } = {};
  if (o.ret !== undefined) j['ret'] = o.ret <= 0xffffn ? Number(o.ret) : hex(o.ret);
  if (o.errno !== undefined) j['errno'] = o.errno;
  if (o.out !== undefined) j['out'] = o.out;
  if (o.dma !== undefined) j['dma'] = o.dma;
  if (o.signal !== undefined) j['signal'] = o.signal;
  if (o.oops !== undefined) j['oops'] = o.oops;
  return j;
}

function expectJson(e: Expect): { [k: string]: JsonValue } {
  const j: { [k: string]: JsonValue } = {};
  if (e.ret !== undefined) j['ret'] = e.ret <= 0xffffn ? Number(e.ret) : hex(e.ret);
  if (e.errno !== undefined) j['errno'] = e.errno;
  if (e.out !== undefined) j['out'] = e.out as { [k: string]: JsonValue };
  if (e.dma !== undefined) j['dma'] = e.dma;
  if (e.signal !== undefined) j['signal'] = e.signal;
  return j;
}

/** u64-looking values compare as numbers; arrays of strings compare as sets (flag lists). */
export function sameValue(expected: unknown, actual: unknown): boolean {
  const asBig = (x: unknown): bigint | null => {
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
    const v = typeof x === 'string' ? u64Text(x) : null;
    return typeof v === 'bigint' ? v : null;
  };
  const a = asBig(expected);
  const b = asBig(actual);
  if (a !== null && b !== null) return a === b;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) return false;
    if (expected.every((x) => typeof x === 'string') && actual.every((x) => typeof x === 'string')) {
      const s = new Set(actual as string[]);
      return (expected as string[]).every((x) => s.has(x));
    }
    return expected.every((x, i) => sameValue(x, actual[i]));
  }
  if (typeof expected === 'object' && expected !== null && typeof actual === 'object' && actual !== null) {
    const eo = expected as Record<string, unknown>;
    return Object.keys(eo).every((k) => sameValue(eo[k], own(actual, k)));
  }
  return expected === actual;
}

/** Whether an outcome meets an expectation (only what the expectation names is compared). */
export function meets(e: Expect, o: Outcome): boolean {
  if (e.ret !== undefined && (o.ret === undefined || o.ret !== e.ret)) return false;
  if (e.errno !== undefined && o.errno !== e.errno) return false;
  if (e.ret !== undefined && o.errno !== undefined) return false;
  if (e.dma !== undefined && o.dma !== e.dma) return false;
  if (e.signal !== undefined && o.signal !== e.signal) return false;
  if (e.out !== undefined) {
    if (o.out === undefined) return false;
    for (const [k, v] of Object.entries(e.out)) if (!sameValue(v, own(o.out, k))) return false;
  }
  return true;
}

export interface StepRecord {
  /** The record: a stimulus, or a step record. */
  readonly stimulus: Stimulus;
  /** The outcome of the path that returned with this record (null: none returned yet). */
  readonly outcome: Outcome | null;
  /** The stimulus whose path returned with this record (a step record's task's), when one did. */
  readonly returned?: Stimulus;
  /** A step record: the step it ran, `<path>.<state>` (or the task_work of a returned path). */
  readonly step?: string;
  readonly derived: readonly Derived[];
  /** What the record's path touched (src/core/tx.ts Touched): the timeline's dirty set reads it. */
  readonly touched?: Touched;
}

/** The step task `name` runs next: `<path>.<state>`, or the task_work of a path that returned. */
function stepName(w: World, name: string): string | undefined {
  const t = w.tasks.get(name);
  const rp = t?.current ?? null;
  if (rp === null) {
    const s = t?.queue[0];
    if (s === undefined) return undefined;
    const path = pathNameFor(s);
    return `${path}.${initialState(PATHS[path].machine)}`;
  }
  return isFinal(PATHS[rp.path as PathName].machine, rp.state) ? 'task_work (____fput)' : `${rp.path}.${rp.state}`;
}

/**
 * The scheme a log runs under, for replay and check alike: the one given instead (--scheme), or
 * else the built-in its header names (absent: upstream); any other name is bad input.
 */
export function schemeOfLog(header: Header, file: string, override?: Scheme): Scheme {
  if (override !== undefined) return override;
  const scheme = builtinScheme(header.scheme);
  if (scheme === undefined) throw new InputError(file, 1, 'scheme', `unknown scheme ${showValue(header.scheme)} (iommu-model schemes lists them; a scheme file is given with --scheme)`);
  return scheme;
}

/** No derived records (a task's stimulus, which emits its records when its task steps). */
const NONE: Emitted = { derived: [], emitted: 0 };

/** A replay in progress: push items, then read the report. */
export class Replay {
  readonly world: World = emptyWorld();
  readonly scheme: Scheme;
  /** The kernel release the header names (`kernel`), or the latest. */
  readonly release: KernelRelease;
  readonly divergences: Divergence[] = [];
  readonly violations: Violation[] = [];
  private readonly checker = new Checker();
  /** The edges LockOrder's graph has: one history, so a step records only edges new to it. */
  private readonly knownEdge = (from: string, to: string): boolean => this.checker.lockGraph.hasEdge(from, to);
  records = 0;
  derivedCount = 0;
  /** The last record, and the derived records the log carries after it (compared with the computed ones). */
  private pending: { seq: number; op: string; line: number; computed: Emitted; recorded: Derived[] } | null = null;
  private lastSeq = 0;
  private sawSteps = false;
  private deadlockReported = false;

  constructor(
    readonly header: Header,
    private readonly file: string,
    /** Called after each stimulus (recording, --at, --why). */
    private readonly onStep?: (r: StepRecord) => void,
    /** A scheme that overrides the header's (a user's scheme file). */
    schemeOverride?: Scheme,
  ) {
    this.scheme = schemeOfLog(header, file, schemeOverride);
    this.release = releaseOf(header);
  }

  push(item: LogItem): void {
    if (item.kind === 'header') return;
    if (item.kind === 'derived') {
      this.pending?.recorded.push(item.derived);
      return;
    }
    this.flushDerived();
    const s = item.stimulus;
    this.lastSeq = s.seq;
    this.records += 1;
    this.guard(s, () => {
      if (s.op === 'step') this.step(s);
      else if (s.task !== undefined) this.queue(s);
      else this.apply(s);
    });
  }

  /** Runs `fn`, naming the record in any error it throws. */
  private guard(s: Stimulus, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof BadReference) throw new InputError(this.file, s.line, e.field, e.detail);
      if (e instanceof ModelError) throw new ModelError(`${this.file}:${s.line}: ${e.message}`);
      throw e;
    }
  }

  /** A stimulus without a task: its path runs to completion now. */
  private apply(s: Stimulus): void {
    const applied = applyStimulus(this.world, this.scheme, s, this.release, this.knownEdge);
    this.after(s, applied, applied.touched, { stimulus: s, outcome: applied.outcome });
  }

  /** A stimulus with a task joins the task's queue; its outcome comes when its path returns. */
  private queue(s: Stimulus): void {
    addToTask(this.world, s);
    this.pending = { seq: s.seq, op: s.op, line: s.line, computed: NONE, recorded: [] };
    this.onStep?.({ stimulus: s, outcome: null, derived: [] });
  }

  /** A step record: one atomic step of its task (docs/concurrency.md). */
  private step(s: Stimulus): void {
    this.sawSteps = true;
    const name = stepName(this.world, s.task!);
    const st = stepTask(this.world, this.scheme, s.task!, s.seq, this.release, this.knownEdge);
    this.after(s, st, st.touched, st.finished, name);
  }

  /**
   * Checks after a record: the returned path's expectation, the properties, the derived records.
   * The derived records are built only if read: by onStep, or to compare with recorded ones.
   */
  private after(s: Stimulus, computed: Emitted, touched: Touched, finished: { stimulus: Stimulus; outcome: Outcome } | null, step?: string): void {
    this.derivedCount += computed.emitted;
    if (finished !== null) {
      const f = finished.stimulus;
      if (f.expect !== undefined && !meets(f.expect, finished.outcome)) {
        this.divergences.push({ seq: f.seq, op: f.op, line: f.line, expected: expectJson(f.expect), actual: outcomeJson(finished.outcome), decidedBy: finished.outcome.decidedBy });
      }
    }
    this.violations.push(...this.checker.check(this.world, touched, s.seq));
    const cycle = this.world.tasks.size > 0 ? waitForCycle(this.world, scheduler(this.scheme)) : null;
    if (cycle !== null && !this.deadlockReported) {
      this.deadlockReported = true;
      this.violations.push({ property: 'NoDeadlock', seq: s.seq, ...cycle });
    }
    this.pending = { seq: s.seq, op: s.op, line: s.line, computed, recorded: [] };
    if (this.onStep === undefined) return;
    const derived = computed.derived;
    this.onStep({ stimulus: s, outcome: finished?.outcome ?? null, derived, touched, ...(finished === null ? {} : { returned: finished.stimulus }), ...(step === undefined ? {} : { step }) });
  }

  /**
   * A scenario (tasks, no step records) replays one schedule: each task in the order it first
   * appears runs as far as it can before the next one moves (`check` explores all schedules).
   */
  private runDefaultSchedule(): void {
    for (;;) {
      const t = [...this.world.tasks.values()].find((x) => hasWork(x) && blockedOn(this.world, this.scheme, x) === null);
      if (t === undefined) return;
      // Each step of the schedule is a step record after the log's last, as a recording writes it.
      this.lastSeq += 1;
      const s = { op: 'step', task: t.name, seq: this.lastSeq, line: (t.current ?? { stimulus: t.queue[0]! }).stimulus.line } as Stimulus;
      this.guard(s, () => this.step(s));
    }
  }

  /** Compares the derived records a log carried for the last stimulus with the recomputed ones. */
  private flushDerived(): void {
    const p = this.pending;
    this.pending = null;
    if (p === null || p.recorded.length === 0) return;
    const computed = p.computed.derived;
    const n = Math.max(p.recorded.length, computed.length);
    for (let i = 0; i < n; i += 1) {
      const r = p.recorded[i];
      const c = computed[i];
      if (JSON.stringify(r) !== JSON.stringify(c)) {
        this.divergences.push({ seq: p.seq, op: p.op, line: p.line, expected: (r ?? null) as JsonValue, actual: (c ?? null) as JsonValue, decidedBy: `derived record ${i + 1} of ${p.seq}` });
        return;
      }
    }
  }

  finish(): ReplayReport {
    this.flushDerived();
    if (!this.sawSteps) this.runDefaultSchedule();
    const stuckHere = stuck(this.world, scheduler(this.scheme));
    if (stuckHere !== null && !this.deadlockReported) this.violations.push({ property: 'NoDeadlock', seq: this.lastSeq, ...stuckHere });
    const left = [...this.world.tasks.values()].some(hasWork) ? null : leftovers(this.world, scheduler(this.scheme));
    if (left !== null) this.violations.push({ property: 'TeardownCompletes', seq: this.lastSeq, message: `every process exited but ${left} is left` });
    return {
      scheme: this.scheme.name,
      kernel: this.release.name,
      records: this.records,
      derived: this.derivedCount,
      divergences: this.divergences,
      violations: this.violations,
      fingerprint: fingerprint(this.world),
    };
  }
}

export interface ReplayReport {
  readonly scheme: string;
  /** The kernel release the log modelled. */
  readonly kernel: ReleaseName;
  readonly records: number;
  readonly derived: number;
  readonly divergences: readonly Divergence[];
  readonly violations: readonly Violation[];
  readonly fingerprint: string;
}

/** Replays a log held in memory (tests, fixtures). */
export function replayItems(header: Header, items: Iterable<LogItem>, file = '<log>', onStep?: (r: StepRecord) => void, scheme?: Scheme): { report: ReplayReport; world: World } {
  const r = new Replay(header, file, onStep, scheme);
  for (const it of items) r.push(it);
  return { report: r.finish(), world: r.world };
}

/** The JSONL lines of a recording: each stimulus with its actual outcome as `expect`, then its derived records. */
export function recordLines(step: StepRecord): string[] {
  const { stimulus: s, outcome } = step;
  const rec = stimulusJson(s, false);
  // A task's stimulus returns later; its outcome is known only for paths that return at once.
  const exp = outcome === null || s.task !== undefined || s.op === 'step' ? {} : outcomeJson(outcome);
  delete exp['oops'];
  if (Object.keys(exp).length > 0) rec['expect'] = exp;
  return [JSON.stringify(rec), ...step.derived.map((d) => JSON.stringify(d))];
}

/** A stimulus as a log record again, with an explicit seq (and its expectation if asked). */
export function stimulusJson(s: Stimulus, withExpect: boolean): Record<string, JsonValue> {
  const rec: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'line' || k === 'seq' || v === undefined || (k === 'expect' && !withExpect)) continue;
    rec[k] = toJson(v, k);
  }
  rec['seq'] = s.seq;
  return rec;
}

function toJson(v: unknown, key: string): JsonValue {
  if (typeof v === 'bigint') return hex(v);
  if (key === 'prot' && typeof v === 'object' && v !== null && 'read' in v) {
    const p = v as { read: boolean; write: boolean };
    return [...(p.read ? ['READ'] : []), ...(p.write ? ['WRITE'] : [])];
  }
  if (Array.isArray(v)) return v.map((x) => toJson(x, ''));
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJson(x, k);
    return o;
  }
  return v as JsonValue;
}
