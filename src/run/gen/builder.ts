/**
 * A generated log under construction (issue 12, `gen`): every record goes through the log
 * reader, so what is written is valid under it, and into a replay at once, so the generator
 * sees each outcome (the fd an open returned) before it writes the next record. A stimulus's
 * `expect` is the model's own outcome: a log replays with no divergence by construction, and
 * the test replays each written log again to show it.
 */
import { LogReader } from '../../log/reader.js';
import { Replay, outcomeJson, type ReplayReport, type StepRecord } from '../replay.js';
import type { Outcome } from '../../core/tx.js';
import type { Derived, Header, JsonValue } from '../../vocab/records.js';
import { MACHINES, type ObjectMachineName } from '../../../machines/index.js';
import { initialState } from '../../core/stepper.js';
import { blockedOn } from '../engine.js';
import { ModelError } from '../../vocab/errors.js';

export type GenRecord = { [k: string]: JsonValue };

/** What the model answered to one record of the log. */
export interface Applied {
  /** The record as written (without its `expect`). */
  readonly record: GenRecord;
  /** Its outcome; null for a task's stimulus until its path returns (then `returned` holds it). */
  readonly outcome: Outcome | null;
  /** The derived records it caused. */
  readonly derived: readonly Derived[];
  /** A step record's step (`<path>.<state>`), and the stimulus whose path returned with it. */
  readonly step?: string;
  readonly returned?: { readonly line: number; readonly outcome: Outcome };
}

/** A finished log: its text, with the replay's report of it. */
export interface BuiltLog {
  readonly lines: readonly string[];
  readonly report: ReplayReport;
  readonly applied: readonly Applied[];
}

/** The expectation of an outcome: what `replay` compares (an oops cannot be expected: docs/log-format.md, "Expectations and outcomes"). */
function expectOf(o: Outcome): GenRecord | undefined {
  const e = outcomeJson(o);
  delete e['oops'];
  return Object.keys(e).length === 0 ? undefined : e;
}

/**
 * The state of "the" object of each machine in a log: the first one that changed state (the
 * logs the generator writes have one object per machine that matters), else the machine's
 * initial state.
 */
export class ObjectStates {
  private readonly first = new Map<string, { key: string; state: string }>();

  state(machine: ObjectMachineName): string {
    return this.first.get(machine)?.state ?? initialState(machine);
  }

  /** Follows the `state` records among a record's derived records. */
  update(derived: readonly Derived[]): void {
    for (const d of derived) {
      if (d.op !== 'state') continue;
      const [machine, ...rest] = String(d['object']).split(':');
      const key = rest.join(':');
      const known = this.first.get(machine!);
      if (known === undefined && machine! in MACHINES) this.first.set(machine!, { key, state: String(d['to']) });
      else if (known?.key === key) known.state = String(d['to']);
    }
  }
}

export class LogBuilder {
  private readonly reader = new LogReader('<gen>');
  private readonly replay: Replay;
  private readonly records: GenRecord[] = [];
  /** Expectations by index into `records`. */
  private readonly expects = new Map<number, GenRecord>();
  readonly applied: Applied[] = [];
  private readonly objects = new ObjectStates();
  /** Tasks whose stimulus has not returned yet. */
  private readonly pending = new Set<string>();
  private finished = false;

  constructor(private readonly header: Header) {
    this.reader.push(JSON.stringify(header));
    this.replay = new Replay(header, '<gen>', (r) => this.onStep(r));
  }

  /** Appends a stimulus (or a step record) and applies it; returns what the model answered. */
  push(record: GenRecord): Applied {
    const item = this.reader.push(JSON.stringify(record));
    if (item === null || item.kind !== 'stimulus') throw new ModelError(`the generator wrote a record that is not a stimulus: ${JSON.stringify(record)}`);
    this.records.push(record);
    this.replay.push(item);
    return this.applied[this.applied.length - 1]!;
  }

  /** Steps `task` until the stimulus it runs returns; returns that stimulus's outcome. */
  runTask(task: string): Outcome {
    for (;;) {
      const a = this.push({ op: 'step', task });
      if (a.returned !== undefined) return a.returned.outcome;
    }
  }

  /** The state of the log's object of `machine` (ObjectStates). */
  stateOf(machine: ObjectMachineName): string {
    return this.objects.state(machine);
  }

  /** The tasks whose stimulus has not returned, in the order they were given one. */
  get pendingTasks(): readonly string[] {
    return [...this.pending];
  }

  /** Whether `task`'s next step waits (for a lock or a completion). */
  blocked(task: string): boolean {
    const t = this.replay.world.tasks.get(task);
    return t !== undefined && blockedOn(this.replay.world, this.replay.scheme, t) !== null;
  }

  private onStep(r: StepRecord): void {
    // finish()'s default schedule would run tasks no record stepped: the generator always steps its own
    if (this.finished) throw new ModelError('a generated log left a task unstepped');
    const index = this.records.length - 1;
    if (r.stimulus.op !== 'step' && r.stimulus.task === undefined && r.outcome !== null) this.expectAt(index, r.outcome);
    if (r.returned !== undefined && r.outcome !== null) this.expectAt(r.returned.line - 2, r.outcome);
    if (r.stimulus.op !== 'step' && r.stimulus.task !== undefined) this.pending.add(r.stimulus.task);
    if (r.returned?.task !== undefined) this.pending.delete(r.returned.task);
    this.objects.update(r.derived);
    this.applied.push({
      record: this.records[index]!,
      outcome: r.stimulus.op === 'step' ? null : r.outcome,
      derived: r.derived,
      ...(r.step === undefined ? {} : { step: r.step }),
      ...(r.returned === undefined || r.outcome === null ? {} : { returned: { line: r.returned.line, outcome: r.outcome } }),
    });
  }

  private expectAt(index: number, o: Outcome): void {
    const e = expectOf(o);
    if (e !== undefined) this.expects.set(index, e);
  }

  /** The log's lines: the header (with `description` and the violations found) and every record with its expectation. */
  finish(description: string): BuiltLog {
    this.finished = true;
    const report = this.replay.finish();
    const violations = [...new Set(report.violations.map((v) => v.property))].sort();
    const header: GenRecord = { ...(this.header as unknown as GenRecord), description, ...(violations.length > 0 ? { violations } : {}) };
    const lines = [JSON.stringify(header)];
    this.records.forEach((r, i) => {
      const e = this.expects.get(i);
      const { comment, ...fields } = r;
      lines.push(JSON.stringify({ ...fields, ...(e === undefined ? {} : { expect: e }), ...(comment === undefined ? {} : { comment }) }));
    });
    return { lines, report, applied: this.applied };
  }
}
