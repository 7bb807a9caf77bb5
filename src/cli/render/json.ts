/**
 * The --json output of every command: pure functions from data to the one JSON document a
 * command prints (no io, no files). Each returns the document's text, newline included.
 */
import { PROPERTY_NAMES } from '../../vocab/properties.js';
import type { ChainLink, LockDetail, LockScenario } from '../../checks/scenario.js';
import { outcomeJson, stimulusJson, type ReplayReport, type StepRecord } from '../../run/replay.js';
import type { DemoSummary, PairRun } from '../../run/verdicts.js';
import type { Derived, JsonValue } from '../../vocab/records.js';
import type { CheckRun } from './text.js';
import { collisionProbability } from '../../run/visited.js';
import { replayCommand } from './text.js';

/** A lock finding's scenario (`{kind, tasks, rows}`) and chain (chain[i] is lockdep's `-> #i`), when it has them. */
function detailJson(d: LockDetail): { scenario?: LockScenario; chain?: readonly ChainLink[] } {
  return { ...(d.scenario === undefined ? {} : { scenario: d.scenario }), ...(d.chain === undefined ? {} : { chain: d.chain }) };
}

function documentText(doc: object): string {
  return `${JSON.stringify(doc)}\n`;
}

/** replay --trace --json: each record, the outcome its path returned with (and which), its derived records. */
function traceJson(steps: readonly StepRecord[]): Array<{ [k: string]: JsonValue }> {
  return steps.map((st) => ({
    seq: st.stimulus.seq,
    op: st.stimulus.op,
    record: stimulusJson(st.stimulus, false),
    ...(st.step === undefined ? {} : { step: st.step }),
    ...(st.returned === undefined || st.outcome === null ? {} : { returned: st.returned.seq, outcome: outcomeJson(st.outcome) }),
    derived: st.derived as unknown as JsonValue[],
  }));
}

export function reportJson(file: string, r: ReplayReport, trace?: readonly StepRecord[]): string {
  return documentText({
    ...(trace === undefined ? {} : { trace: traceJson(trace) }),
    log: file,
    scheme: r.scheme,
    kernel: r.kernel,
    records: r.records,
    derived: r.derived,
    fingerprint: r.fingerprint,
    divergences: r.divergences.map((d) => ({ seq: d.seq, op: d.op, line: d.line, expected: d.expected, actual: d.actual, decidedBy: d.decidedBy })),
    violations: r.violations.map((v) => ({ property: v.property, seq: v.seq, message: v.message, ...detailJson(v) })),
  });
}

/** replay --why: `seq` as the user wrote it (<seq> or <seq>.<derived id>). */
export function whyJson(seq: string, chain: readonly Derived[]): string {
  return documentText({ seq, chain });
}

/** replay --at. */
export function worldJson(seq: number, world: { [k: string]: JsonValue }): string {
  return documentText({ seq, world });
}

export function checkJson(c: CheckRun): string {
  const { report } = c;
  const violated = new Set(report.findings.map((f) => f.property));
  return documentText({
    scenario: c.scenario,
    scheme: c.scheme,
    kernel: report.kernel,
    tasks: report.tasks,
    statesGenerated: report.statesGenerated,
    distinctStates: report.distinctStates,
    depth: report.depth,
    terminalStates: report.terminalStates,
    /** n(n-1)/2 / 2^53 for n distinct states: TLC's "calculated (optimistic)" (src/run/visited.ts). */
    collisionProbability: collisionProbability(report.distinctStates),
    exhausted: report.exhausted,
    ...(report.cutOff === undefined ? {} : { cutOff: report.cutOff }),
    ...(c.resumedFrom === undefined ? {} : { resumedFrom: c.resumedFrom, resumedAt: report.resumedAt ?? 0 }),
    seconds: Number(c.seconds.toFixed(3)),
    statesPerSecond: c.statesPerSecond,
    lockEdges: report.lockEdges,
    reduction: report.reduction === true,
    pruned: report.pruned ?? 0,
    symmetry: report.symmetry === true,
    properties: Object.fromEntries(PROPERTY_NAMES.map((p) => [p, violated.has(p) ? 'violated' : report.exhausted ? 'holds' : 'not violated so far'])),
    violations: report.findings.map((f) => ({ property: f.property, seq: f.seq, message: f.message, schedule: f.schedule, steps: f.schedule.length, ...detailJson(f) })),
    ...(c.counterexample === undefined ? {} : { counterexample: c.counterexample.file }),
    ...(c.checkpoint === undefined ? {} : { checkpoint: c.checkpoint }),
  });
}

function explorationJson(row: PairRun): { [k: string]: JsonValue } {
  return {
    scheme: row.scheme,
    ...(row.report === null ? {} : { statesGenerated: row.report.statesGenerated, distinctStates: row.report.distinctStates, exhausted: row.report.exhausted }),
    ...(row.setup === null || row.setup === undefined ? {} : { notRun: { seq: row.setup.seq, line: row.setup.line, op: row.setup.op, expected: row.setup.expected, actual: row.setup.actual, decidedBy: row.setup.decidedBy } }),
    ...(row.error === undefined ? {} : { error: row.error }),
  };
}

export function demoJson(s: DemoSummary, seconds: number): string {
  return documentText({
    ok: s.ok,
    kernel: s.kernel.join(', '),
    seconds: Number(seconds.toFixed(3)),
    maxStates: s.maxStates,
    goldenLogs: s.golden.map((g) => ({ log: g.log, records: g.records, divergences: g.divergences, violations: [...g.violations], expected: [...g.expected], match: g.match })),
    scenarios: s.runs.map((r) => ({
      name: r.name,
      exercises: [...r.applicable],
      explorations: r.rows.map(explorationJson),
      ...(r.error === undefined ? {} : { error: r.error }),
    })),
    verdicts: s.verdicts.map((v) => ({
      scenario: v.scenario,
      scheme: v.scheme,
      property: v.property,
      verdict: v.got,
      expected: v.expected,
      match: v.got === v.expected,
      ...(v.steps === undefined ? {} : { steps: v.steps, seq: v.seq! }),
      ...(v.counterexample === undefined ? {} : { counterexample: v.counterexample, replay: replayCommand(v) }),
    })),
    counterexamples: s.verdicts.flatMap((v) => (v.counterexample === undefined ? [] : [v.counterexample])),
    mismatches: s.mismatches.map((m) => ({ ...m })),
    errors: s.errors.map((e) => ({ ...e })),
    unknownExpectations: s.unknownExpectations.map((u) => ({ ...u })),
  });
}
