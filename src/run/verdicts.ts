/**
 * The demo's computation, without printing or files: which properties a scenario exercises, what
 * each scheme documents, whether a scenario's set-up runs under a scheme, the verdict of every
 * (scenario, scheme, property) once each pair is explored, and the tally of them all.
 */
import { PROPERTY_NAMES, type PropertyName } from '../vocab/properties.js';
import { explore, type ExploreReport, type Scenario } from './explore.js';
import type { LogItem } from '../log/reader.js';
import type { Header, JsonValue } from '../vocab/records.js';
import { Replay, type Divergence, type ReplayReport } from './replay.js';
import type { Scheme } from '../schemes/scheme.js';
import { InputError } from '../vocab/errors.js';
import { compareReleases, LATEST_RELEASE, releaseOf, type ReleaseName } from '../vocab/releases.js';

/** How many states the demo explores of each (scenario, scheme) pair at most. */
export const DEMO_MAX_STATES = 200000;

/**
 * What exploring showed about one property: `unknown` when --max-states cut the search before
 * it found a violation (so `holds` cannot be claimed); `not run` when the scenario's set-up fails
 * under the scheme (see setupFailure), so that nothing was exercised and nothing is claimed.
 */
export type Outcome = 'holds' | 'violated' | 'n/a' | 'unknown' | 'not run';
export type Expected = 'holds' | 'violated' | 'n/a' | 'not run';

export interface Verdict {
  readonly scenario: string;
  readonly scheme: string;
  readonly property: PropertyName;
  readonly got: Outcome;
  readonly expected: Expected;
  /** violated: the number of steps of the shortest counterexample (0: the scenario's own records). */
  readonly steps?: number;
  /** violated: the record of the counterexample log it is reported at. */
  readonly seq?: number;
  /** violated and applicable: the counterexample log written (relative to the working directory). */
  readonly counterexample?: string;
}

export interface Mismatch {
  readonly scenario: string;
  readonly scheme: string;
  readonly property: PropertyName;
  readonly expected: Expected;
  readonly got: Outcome;
}

/** The properties a scenario exercises: its header's `exercises`, or all of them. */
export function applicableProperties(header: Header): readonly PropertyName[] {
  if (header.exercises === undefined) return PROPERTY_NAMES;
  const set = new Set<string>(header.exercises);
  return PROPERTY_NAMES.filter((p) => set.has(p));
}

/**
 * The properties a scheme documents it violates on a scenario: `scheme.expect[scenario]`; when
 * the scheme does not document the scenario and is the scenario's own (header) scheme, the
 * header's `violations`; otherwise none.
 */
export function expectedViolations(scheme: Scheme, scenario: string, header: Header): readonly string[] {
  const documented = Object.prototype.hasOwnProperty.call(scheme.expect, scenario) ? scheme.expect[scenario] : undefined;
  if (documented !== undefined) return documented;
  if (header.scheme === scheme.name) return header.violations ?? [];
  return [];
}

/**
 * The first record of the scenario's set-up (a record outside every task) that the scenario
 * expects to succeed and that fails under the scheme, replayed on the default schedule; null
 * when the set-up runs. A scheme that refuses the set-up (noiommu has no /dev/vfio/<group>)
 * exercises nothing the scenario is about.
 */
export function setupFailure(header: Header, items: readonly LogItem[], file: string, scheme: Scheme): Divergence | null {
  const setup = new Set(items.flatMap((it) => (it.kind === 'stimulus' && it.stimulus.task === undefined ? [it.stimulus.seq] : [])));
  const isObj = (v: JsonValue): v is { [k: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v);
  const failed = (d: Divergence): boolean => setup.has(d.seq) && isObj(d.expected) && 'ret' in d.expected && isObj(d.actual) && 'errno' in d.actual;
  const replay = new Replay(header, file, undefined, scheme);
  try {
    for (const it of items) replay.push(it);
    replay.finish();
  } catch (e) {
    // A later record may name what the failed set-up never made (an unbind of a bond that was
    // never bound): the failure explains it. Without one, the error is the scenario's own.
    const d = replay.divergences.find(failed);
    if (d !== undefined) return d;
    throw e;
  }
  return replay.divergences.find(failed) ?? null;
}

/**
 * `check`'s guard: a scheme that refuses the scenario's set-up (noiommu has no /dev/vfio/<group>)
 * leaves nothing to explore, so no property can be said to hold: the pair is bad input, named by
 * the record that failed.
 */
export function requireSetup(header: Header, items: readonly LogItem[], file: string, scheme: Scheme): void {
  const setup = setupFailure(header, items, file, scheme);
  if (setup !== null) {
    throw new InputError(file, setup.line, 'expect', `the scenario's set-up fails under scheme '${scheme.name}': record ${setup.seq} (${setup.op}) expected ${JSON.stringify(setup.expected)}, got ${JSON.stringify(setup.actual)} (${setup.decidedBy}); nothing to explore`);
  }
}

/** One verdict per property (in PROPERTY_NAMES order) of one exploration. */
export function verdictsOf(scenario: string, header: Header, scheme: Scheme, report: ExploreReport, notRun = false): Verdict[] {
  const applicable = new Set(applicableProperties(header));
  const expectedSet = new Set(expectedViolations(scheme, scenario, header));
  const documentedNotRun = scheme.expectNotRun.includes(scenario);
  const found = new Map(report.findings.map((f) => [f.property, f]));
  return PROPERTY_NAMES.map((property): Verdict => {
    const expected: Expected = expectedSet.has(property) ? 'violated' : !applicable.has(property) ? 'n/a' : documentedNotRun ? 'not run' : 'holds';
    const base = { scenario, scheme: scheme.name, property, expected };
    if (!applicable.has(property)) return { ...base, got: 'n/a' };
    const f = found.get(property);
    if (f !== undefined) return { ...base, got: 'violated', steps: f.schedule.length, seq: f.seq };
    if (notRun) return { ...base, got: 'not run' };
    return { ...base, got: report.exhausted ? 'holds' : 'unknown' };
  });
}

/** The verdicts that differ from the expectation their scheme documents. */
export function compareVerdicts(verdicts: readonly Verdict[]): Mismatch[] {
  return verdicts
    .filter((v) => v.got !== v.expected)
    .map((v) => ({ scenario: v.scenario, scheme: v.scheme, property: v.property, expected: v.expected, got: v.got }));
}

/** The file name of the counterexample of one (scenario, scheme, property). */
export function counterexampleName(scenario: string, scheme: string, property: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe(scenario)}--${safe(scheme)}--${safe(property)}.jsonl`;
}

/** A golden log replayed, against the violations its header names. */
export interface GoldenResult {
  /** The log's file name (in test/fixtures). */
  readonly log: string;
  /** No divergence, and the violations are exactly the expected ones. */
  readonly match: boolean;
  readonly records: number;
  readonly divergences: number;
  /** The properties the replay found violated, sorted. */
  readonly violations: readonly string[];
  /** The properties the header's `violations` names, sorted. */
  readonly expected: readonly string[];
}

/** Compares a golden log's replay with the violations its header names. */
export function goldenResult(log: string, header: Header, r: ReplayReport): GoldenResult {
  const violations = [...new Set(r.violations.map((v) => v.property))].sort();
  const expected = [...(header.violations ?? [])].sort();
  const match = r.divergences.length === 0 && JSON.stringify(violations) === JSON.stringify(expected);
  return { log, records: r.records, divergences: r.divergences.length, violations, expected, match };
}

/** A scenario read for exploring (its items too, for setupFailure), or the error reading it gave. */
export type ScenarioInput =
  | { readonly name: string; readonly scenario: Scenario; readonly items: readonly LogItem[] }
  | { readonly name: string; readonly error: string };

/** One scheme's row of a scenario: its verdicts, or the error that left it without. */
export interface PairRun {
  readonly scheme: string;
  readonly verdicts: readonly Verdict[];
  readonly report: ExploreReport | null;
  /** The set-up record that fails under this scheme (its verdicts are `not run`), or null. */
  readonly setup?: Divergence | null;
  readonly error?: string;
}

export interface ScenarioRun {
  readonly name: string;
  /** null when the scenario could not be read (see error). */
  readonly scenario: Scenario | null;
  readonly applicable: readonly PropertyName[];
  readonly rows: readonly PairRun[];
  readonly error?: string;
}

/** Where exploring every pair is: pair `index` of `total`, and the states generated of it so far. */
export interface PairProgress {
  readonly index: number;
  readonly total: number;
  readonly scenario: string;
  readonly scheme: string;
  readonly generated?: number;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Explores one scenario under one scheme (unless its set-up fails) and gives the pair's verdicts. */
function explorePair(input: { name: string; scenario: Scenario; items: readonly LogItem[] }, scheme: Scheme, maxStates: number, onStates?: (generated: number) => void): PairRun {
  const { name, scenario: sc, items } = input;
  let report: ExploreReport;
  let setup: Divergence | null;
  try {
    setup = setupFailure(sc.header, items, sc.file, scheme);
  } catch (e) {
    return { scheme: scheme.name, verdicts: [], report: null, error: errorText(e) };
  }
  try {
    report = explore(sc, scheme, {
      maxStates,
      ...(onStates === undefined ? {} : { onProgress: (p: { generated: number }) => onStates(p.generated) }),
    });
  } catch (e) {
    // After a failed set-up, a later record may name what was never made: nothing to claim.
    if (setup === null) return { scheme: scheme.name, verdicts: [], report: null, error: errorText(e) };
    report = { scheme: scheme.name, kernel: releaseOf(sc.header).name, tasks: [], statesGenerated: 0, distinctStates: 0, depth: 0, terminalStates: 0, exhausted: false, lockEdges: 0, findings: [] };
  }
  return { scheme: scheme.name, verdicts: verdictsOf(name, sc.header, scheme, report, setup !== null), report, setup };
}

/**
 * Every scenario under every scheme, explored (each up to `maxStates`), in the order given: one
 * ScenarioRun per scenario.
 */
export function exploreEveryPair(scenarios: readonly ScenarioInput[], schemes: readonly Scheme[], onProgress?: (p: PairProgress) => void, maxStates = DEMO_MAX_STATES): ScenarioRun[] {
  const total = scenarios.length * schemes.length;
  let index = 0;
  return scenarios.map((input): ScenarioRun => {
    if ('error' in input) {
      index += schemes.length;
      return { name: input.name, scenario: null, applicable: [], rows: [], error: input.error };
    }
    const rows = schemes.map((scheme) => {
      index += 1;
      const at = { index, total, scenario: input.name, scheme: scheme.name };
      onProgress?.(at);
      return explorePair(input, scheme, maxStates, onProgress === undefined ? undefined : (generated) => onProgress({ ...at, generated }));
    });
    return { name: input.name, scenario: input.scenario, applicable: applicableProperties(input.scenario.header), rows };
  });
}

/** An error that left a scenario, or one of its schemes, without verdicts. */
export interface RunError {
  readonly scenario: string;
  readonly scheme: string | null;
  readonly message: string;
}

/** Everything the demo reports, for the renderers. */
export interface DemoSummary {
  readonly scenarioCount: number;
  readonly schemeCount: number;
  readonly golden: readonly GoldenResult[];
  readonly goldenOk: boolean;
  readonly runs: readonly ScenarioRun[];
  readonly verdicts: readonly Verdict[];
  readonly mismatches: readonly Mismatch[];
  readonly errors: readonly RunError[];
  /** Expectations a scheme documents for a scenario that was not run. */
  readonly unknownExpectations: ReadonlyArray<{ readonly scheme: string; readonly scenario: string }>;
  /** The properties some scenario exercises, in PROPERTY_NAMES order. */
  readonly exercised: readonly PropertyName[];
  readonly counts: Readonly<Record<Outcome, number>>;
  /** The states each pair was explored up to. */
  readonly maxStates: number;
  /** The kernel releases the scenarios model (their headers' `kernel`), oldest first. */
  readonly kernel: readonly ReleaseName[];
  readonly ok: boolean;
}

function runErrors(runs: readonly ScenarioRun[]): RunError[] {
  return runs.flatMap((r): RunError[] => (r.error !== undefined ? [{ scenario: r.name, scheme: null, message: r.error }] : r.rows.filter((row) => row.error !== undefined).map((row) => ({ scenario: r.name, scheme: row.scheme, message: row.error! }))));
}

function countOutcomes(verdicts: readonly Verdict[]): Record<Outcome, number> {
  const counts = { holds: 0, violated: 0, 'n/a': 0, unknown: 0, 'not run': 0 };
  for (const v of verdicts) counts[v.got] += 1;
  return counts;
}

/** Tallies the golden logs and the runs (with their counterexamples named) into what the demo reports. */
export function summarizeDemo(golden: readonly GoldenResult[], runs: readonly ScenarioRun[], schemes: readonly Scheme[], scenarios: readonly string[], maxStates = DEMO_MAX_STATES): DemoSummary {
  const goldenOk = golden.every((g) => g.match);
  const verdicts = runs.flatMap((r) => r.rows.flatMap((row) => row.verdicts));
  const mismatches = compareVerdicts(verdicts);
  const errors = runErrors(runs);
  return {
    scenarioCount: scenarios.length,
    schemeCount: schemes.length,
    golden,
    goldenOk,
    runs,
    verdicts,
    mismatches,
    errors,
    unknownExpectations: schemes.flatMap((s) => Object.keys(s.expect).filter((n) => !scenarios.includes(n)).map((n) => ({ scheme: s.name, scenario: n }))),
    exercised: PROPERTY_NAMES.filter((p) => runs.some((r) => r.applicable.includes(p))),
    counts: countOutcomes(verdicts),
    maxStates,
    kernel: [...new Set(runs.flatMap((r) => (r.scenario === null ? [] : [releaseOf(r.scenario.header).name])).concat(runs.length === 0 ? [LATEST_RELEASE] : []))].sort(compareReleases),
    ok: goldenOk && mismatches.length === 0 && errors.length === 0,
  };
}
