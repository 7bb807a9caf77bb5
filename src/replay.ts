/**
 * Replay: fold a log into a world, compare every outcome with its expectation and every
 * recorded derived record with the recomputed one, and check the properties after each record.
 * Pure: the caller feeds items (the CLI streams them from a file) and reads the report.
 */
import { Checker, type Violation } from './checks/properties.js';
import { applyStimulus } from './engine/engine.js';
import { fingerprint } from './engine/fingerprint.js';
import { BadReference, ModelError, type Outcome } from './engine/tx.js';
import { emptyWorld, type World } from './engine/world.js';
import { InputError } from './log/errors.js';
import type { LogItem } from './log/reader.js';
import type { Derived, Expect, Header, JsonValue, Stimulus } from './log/records.js';
import { hex } from './log/u64.js';
import { builtinScheme, type Scheme } from './schemes/scheme.js';

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

/** The outcome as JSON, in the shape of SPEC 1.4's expectations. */
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
function sameValue(expected: unknown, actual: unknown): boolean {
  const asBig = (x: unknown): bigint | null => {
    if (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) return BigInt(x);
    if (typeof x === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(x)) return BigInt(x);
    return null;
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
    const ao = actual as Record<string, unknown>;
    return Object.keys(eo).every((k) => sameValue(eo[k], ao[k]));
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
    for (const [k, v] of Object.entries(e.out)) if (!sameValue(v, o.out[k])) return false;
  }
  return true;
}

export interface StepRecord {
  readonly stimulus: Stimulus;
  readonly outcome: Outcome;
  readonly derived: readonly Derived[];
}

/** A replay in progress: push items, then read the report. */
export class Replay {
  readonly world: World = emptyWorld();
  readonly scheme: Scheme;
  readonly divergences: Divergence[] = [];
  readonly violations: Violation[] = [];
  private readonly checker = new Checker();
  records = 0;
  derivedCount = 0;
  private pending: { seq: number; op: string; line: number; computed: readonly Derived[]; recorded: Derived[] } | null = null;

  constructor(
    readonly header: Header,
    private readonly file: string,
    /** Called after each stimulus (recording, --at, --why). */
    private readonly onStep?: (r: StepRecord) => void,
  ) {
    const scheme = builtinScheme(header.scheme);
    if (scheme === undefined) throw new InputError(file, 1, 'scheme', `unknown scheme '${header.scheme}' (iommu-model schemes lists them)`);
    this.scheme = scheme;
  }

  push(item: LogItem): void {
    if (item.kind === 'header') return;
    if (item.kind === 'derived') {
      this.pending?.recorded.push(item.derived);
      return;
    }
    this.flushDerived();
    const s = item.stimulus;
    let applied;
    try {
      applied = applyStimulus(this.world, this.scheme, s);
    } catch (e) {
      if (e instanceof BadReference) throw new InputError(this.file, s.line, e.field, e.detail);
      if (e instanceof ModelError) throw new ModelError(`${this.file}:${s.line}: ${e.message}`);
      throw e;
    }
    this.records += 1;
    this.derivedCount += applied.derived.length;
    if (s.expect !== undefined && !meets(s.expect, applied.outcome)) {
      this.divergences.push({ seq: s.seq, op: s.op, line: s.line, expected: expectJson(s.expect), actual: outcomeJson(applied.outcome), decidedBy: applied.outcome.decidedBy });
    }
    this.violations.push(...this.checker.check(this.world, applied.touched, s.seq));
    this.pending = { seq: s.seq, op: s.op, line: s.line, computed: applied.derived, recorded: [] };
    this.onStep?.({ stimulus: s, outcome: applied.outcome, derived: applied.derived });
  }

  /** Compares the derived records a log carried for the last stimulus with the recomputed ones. */
  private flushDerived(): void {
    const p = this.pending;
    this.pending = null;
    if (p === null || p.recorded.length === 0) return;
    const n = Math.max(p.recorded.length, p.computed.length);
    for (let i = 0; i < n; i += 1) {
      const r = p.recorded[i];
      const c = p.computed[i];
      if (JSON.stringify(r) !== JSON.stringify(c)) {
        this.divergences.push({ seq: p.seq, op: p.op, line: p.line, expected: (r ?? null) as JsonValue, actual: (c ?? null) as JsonValue, decidedBy: `derived record ${i + 1} of ${p.seq}` });
        return;
      }
    }
  }

  finish(): ReplayReport {
    this.flushDerived();
    return {
      scheme: this.scheme.name,
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
  readonly records: number;
  readonly derived: number;
  readonly divergences: readonly Divergence[];
  readonly violations: readonly Violation[];
  readonly fingerprint: string;
}

/** Replays a log held in memory (tests, fixtures). */
export function replayItems(header: Header, items: Iterable<LogItem>, file = '<log>', onStep?: (r: StepRecord) => void): { report: ReplayReport; world: World } {
  const r = new Replay(header, file, onStep);
  for (const it of items) r.push(it);
  return { report: r.finish(), world: r.world };
}

/** The JSONL lines of a recording: each stimulus with its actual outcome as `expect`, then its derived records. */
export function recordLines(step: StepRecord): string[] {
  const { stimulus: s, outcome } = step;
  const rec: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'line' || k === 'expect' || v === undefined) continue;
    rec[k] = toJson(v, k);
  }
  rec['seq'] = s.seq;
  const exp = outcomeJson(outcome);
  delete exp['oops'];
  if (Object.keys(exp).length > 0) rec['expect'] = exp;
  return [JSON.stringify(rec), ...step.derived.map((d) => JSON.stringify(d))];
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
