/**
 * `demo` (SPEC 3, issue 4): the golden logs, then every built-in scenario under every built-in
 * scheme, explored; the verdict table (scheme x property: holds, violated with the length of the
 * shortest counterexample, or not applicable), each counterexample written to ./iommu-model-out/
 * with the `replay` command that shows it, and the comparison with what each scheme documents.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PROPERTY_NAMES, type PropertyName } from '../vocab/properties.js';
import { counterexampleLines } from '../run/counterexample.js';
import { explore, scenarioOf, type ExploreReport, type Finding, type Scenario } from '../run/explore.js';
import type { LogItem } from '../log/reader.js';
import type { Header, JsonValue } from '../vocab/records.js';
import { Replay, type Divergence } from '../run/replay.js';
import { type Scheme } from '../schemes/scheme.js';
import { builtinSchemes } from '../schemes/catalogue.js';
import { packageRoot, streamLog, writeAtomic } from './io.js';
import type { Io } from './main.js';
import { builtinScenarios, scenarioFile } from './resolve.js';

/** The folder (relative to the working directory) the counterexamples go to. */
export const OUT_DIR = 'iommu-model-out';
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

/** A short column header: the capitals of the property's name (NoDmaUseAfterFree: NDUAF). */
export function shortName(p: PropertyName): string {
  return p.replace(/[^A-Z]/g, '');
}

function cellText(v: Verdict): string {
  const t = v.got === 'violated' ? `violated (${v.steps})` : v.got;
  return v.got === v.expected ? t : `${t} !`;
}

/** A failed set-up record, in one line: `record 5 (open, line 5): expected {"ret":4}, got {"errno":"ENOENT"} (…)`. */
function setupText(d: Divergence): string {
  return `record ${d.seq} (${d.op}, line ${d.line}) expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)} (${d.decidedBy})`;
}

export function counterexampleName(scenario: string, scheme: string, property: string): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe(scenario)}--${safe(scheme)}--${safe(property)}.jsonl`;
}

interface GoldenResult {
  readonly log: string;
  readonly records: number;
  readonly divergences: number;
  readonly violations: readonly string[];
  readonly expected: readonly string[];
  readonly match: boolean;
}

/** Replays every golden log (test/fixtures) and compares with the violations its header names. */
async function goldenLogs(): Promise<{ dir: string; results: GoldenResult[] }> {
  const dir = join(packageRoot(), 'test', 'fixtures');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  } catch {
    names = []; // an installed package without its tests
  }
  const results: GoldenResult[] = [];
  for (const name of names) {
    const file = join(dir, name);
    let header: Header | undefined;
    let replay: Replay | undefined;
    await streamLog(file, (h) => {
      header = h;
      replay = new Replay(h, file);
    }, (it) => replay!.push(it));
    const r = replay!.finish();
    const violations = [...new Set(r.violations.map((v) => v.property))].sort();
    const expected = [...(header!.violations ?? [])].sort();
    const match = r.divergences.length === 0 && JSON.stringify(violations) === JSON.stringify(expected);
    results.push({ log: name, records: r.records, divergences: r.divergences.length, violations, expected, match });
  }
  return { dir, results };
}

interface ScenarioRun {
  readonly name: string;
  readonly header: Header | null;
  readonly applicable: readonly PropertyName[];
  readonly rows: Array<{
    readonly scheme: string;
    readonly verdicts: readonly Verdict[];
    readonly report: ExploreReport | null;
    /** The set-up record that fails under this scheme (its verdicts are `not run`), or null. */
    readonly setup?: Divergence | null;
    readonly error?: string;
  }>;
  readonly error?: string;
}

export interface DemoOptions {
  json?: boolean;
  markdown?: boolean;
}

/** What demo runs; tests substitute their own schemes. */
export interface DemoCatalogue {
  readonly schemes: readonly Scheme[];
  readonly scenarios: readonly string[];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function loadScenario(name: string): Promise<{ header: Header; sc: Scenario; items: LogItem[]; file: string }> {
  const file = scenarioFile(name);
  let header: Header | undefined;
  const items: LogItem[] = [];
  await streamLog(file, (h) => {
    header = h;
  }, (it) => items.push(it));
  return { header: header!, sc: scenarioOf(header!, items, file), items, file };
}

export async function runDemo(io: Io, o: DemoOptions = {}, catalogue?: DemoCatalogue): Promise<number> {
  const t0 = process.hrtime.bigint();
  const schemes = [...(catalogue?.schemes ?? builtinSchemes())].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const scenarios = [...(catalogue?.scenarios ?? builtinScenarios())].sort();
  const text = o.json !== true && o.markdown !== true;
  const say = (s = ''): void => {
    if (text) io.stdout(`${s}\n`); // text streams as it goes; json and markdown print at the end
  };

  // 1. The golden logs.
  const golden = await goldenLogs();
  const goldenOk = golden.results.every((g) => g.match);
  say(`iommu-model demo`);
  const rel = relative(process.cwd(), golden.dir);
  say(`golden logs: replaying ${golden.results.length} logs (${rel === '' ? '.' : rel.startsWith('..') ? golden.dir : rel})`);
  for (const g of golden.results) {
    say(`${g.match ? 'ok  ' : 'FAIL'} ${g.log.padEnd(34)} ${String(g.records).padStart(4)} records  ${g.divergences} divergences  violations: ${g.violations.join(', ') || 'none'}${g.match ? '' : ` (expected: ${g.expected.join(', ') || 'none'})`}`);
  }
  say(goldenOk ? 'every golden log replays as documented' : 'some golden logs did not replay as documented');
  say();

  // 2. Every scenario under every scheme.
  const outDir = join(process.cwd(), OUT_DIR);
  let madeDir = false;
  const total = scenarios.length * schemes.length;
  let k = 0;
  const runs: ScenarioRun[] = [];
  const progress = (msg: string): void => {
    if (io.isTTY) io.stderr(`\r\x1b[K${msg}`);
  };
  for (const name of scenarios) {
    let loaded: Awaited<ReturnType<typeof loadScenario>>;
    try {
      loaded = await loadScenario(name);
    } catch (e) {
      k += schemes.length;
      runs.push({ name, header: null, applicable: [], rows: [], error: errorText(e) });
      continue;
    }
    const { header, sc, items, file: scenarioPath } = loaded;
    const run: ScenarioRun = { name, header, applicable: applicableProperties(header), rows: [] };
    runs.push(run);
    for (const scheme of schemes) {
      k += 1;
      const label = `scenario ${k}/${total}: ${name} under ${scheme.name}...`;
      progress(label);
      let report: ExploreReport;
      let setup: Divergence | null;
      try {
        setup = setupFailure(header, items, scenarioPath, scheme);
      } catch (e) {
        run.rows.push({ scheme: scheme.name, verdicts: [], report: null, error: errorText(e) });
        continue;
      }
      try {
        report = explore(sc, scheme, {
          maxStates: DEMO_MAX_STATES,
          ...(io.isTTY ? { onProgress: (p: { generated: number }) => progress(`${label} ${p.generated} states`) } : {}),
        });
      } catch (e) {
        // After a failed set-up, a later record may name what was never made: nothing to claim.
        if (setup === null) {
          run.rows.push({ scheme: scheme.name, verdicts: [], report: null, error: errorText(e) });
          continue;
        }
        report = { scheme: scheme.name, tasks: [], statesGenerated: 0, distinctStates: 0, depth: 0, terminalStates: 0, exhausted: false, lockEdges: 0, findings: [] };
      }
      const findings = new Map<PropertyName, Finding>(report.findings.map((f) => [f.property, f]));
      const verdicts = verdictsOf(name, header, scheme, report, setup !== null).map((v): Verdict => {
        if (v.got !== 'violated') return v;
        if (!madeDir) {
          mkdirSync(outDir, { recursive: true });
          madeDir = true;
        }
        const file = counterexampleName(name, scheme.name, v.property);
        writeAtomic(join(outDir, file), `${counterexampleLines(sc, scheme, findings.get(v.property)!).join('\n')}\n`);
        return { ...v, counterexample: `${OUT_DIR}/${file}` };
      });
      run.rows.push({ scheme: scheme.name, verdicts, report, setup });
    }
  }
  if (io.isTTY) io.stderr('\r\x1b[K');

  const verdicts = runs.flatMap((r) => r.rows.flatMap((row) => row.verdicts));
  // A counterexample an earlier run wrote for a verdict that now holds would mislead: remove the
  // files of this run's (scenario, scheme, property) triples that it did not write again.
  const written = new Set(verdicts.flatMap((v) => (v.counterexample === undefined ? [] : [v.counterexample.slice(OUT_DIR.length + 1)])));
  const stale = runs.flatMap((r) => r.rows.flatMap((row) => PROPERTY_NAMES.map((p) => counterexampleName(r.name, row.scheme, p)))).filter((f) => !written.has(f) && existsSync(join(outDir, f)));
  for (const f of stale) rmSync(join(outDir, f));
  const mismatches = compareVerdicts(verdicts);
  const errors = runs.flatMap((r) => (r.error !== undefined ? [{ scenario: r.name, scheme: null as string | null, message: r.error }] : r.rows.filter((row) => row.error !== undefined).map((row) => ({ scenario: r.name, scheme: row.scheme as string | null, message: row.error! }))));
  const unknownExpect = schemes.flatMap((s) => Object.keys(s.expect).filter((n) => !scenarios.includes(n)).map((n) => ({ scheme: s.name, scenario: n })));
  const ok = goldenOk && mismatches.length === 0 && errors.length === 0;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const usedProps = PROPERTY_NAMES.filter((p) => runs.some((r) => r.applicable.includes(p)));
  const legend = usedProps.map((p) => `${shortName(p)} ${p}`).join(', ');
  const counts = { holds: 0, violated: 0, 'n/a': 0, unknown: 0, 'not run': 0 };
  for (const v of verdicts) counts[v.got] += 1;
  const summary = `${scenarios.length} scenarios x ${schemes.length} schemes: ${verdicts.length} verdicts, ${counts.holds} hold, ${counts.violated} violated, ${counts['n/a']} n/a${counts['not run'] > 0 ? `, ${counts['not run']} not run` : ''}${counts.unknown > 0 ? `, ${counts.unknown} unknown (search cut at ${DEMO_MAX_STATES} states)` : ''}; ${mismatches.length} differ from the documented expectation${errors.length > 0 ? `, ${errors.length} errors` : ''} (${seconds.toFixed(1)} s)`;
  const failLine = (m: Mismatch): string => `FAIL scheme ${m.scheme}, scenario ${m.scenario}, property ${m.property}: expected ${m.expected}, got ${m.got}`;
  const notes = runs.flatMap((r) =>
    r.rows.flatMap((row) => {
      const applicable = new Set(r.applicable);
      const notRun = row.setup === null || row.setup === undefined ? [] : [`note: ${r.name} under ${row.scheme} is not run: ${setupText(row.setup)}`];
      return [...notRun, ...(row.report?.findings ?? []).filter((f) => !applicable.has(f.property)).map((f) => `note: ${r.name} under ${row.scheme} also violates ${f.property} (${f.schedule.length} steps), which the scenario does not exercise (n/a)`)];
    }),
  );

  if (o.json === true) {
    const doc: { [k: string]: JsonValue } = {
      ok,
      seconds: Number(seconds.toFixed(3)),
      maxStates: DEMO_MAX_STATES,
      goldenLogs: golden.results.map((g) => ({ log: g.log, records: g.records, divergences: g.divergences, violations: [...g.violations], expected: [...g.expected], match: g.match })),
      scenarios: runs.map((r) => ({
        name: r.name,
        exercises: [...r.applicable],
        explorations: r.rows.map((row) => ({
          scheme: row.scheme,
          ...(row.report === null ? {} : { statesGenerated: row.report.statesGenerated, distinctStates: row.report.distinctStates, exhausted: row.report.exhausted }),
          ...(row.setup === null || row.setup === undefined ? {} : { notRun: { seq: row.setup.seq, line: row.setup.line, op: row.setup.op, expected: row.setup.expected, actual: row.setup.actual, decidedBy: row.setup.decidedBy } }),
          ...(row.error === undefined ? {} : { error: row.error }),
        })),
        ...(r.error === undefined ? {} : { error: r.error }),
      })),
      verdicts: verdicts.map((v) => ({
        scenario: v.scenario,
        scheme: v.scheme,
        property: v.property,
        verdict: v.got,
        expected: v.expected,
        match: v.got === v.expected,
        ...(v.steps === undefined ? {} : { steps: v.steps, seq: v.seq! }),
        ...(v.counterexample === undefined ? {} : { counterexample: v.counterexample, replay: `iommu-model replay ${v.counterexample} --scheme ${v.scheme}` }),
      })),
      counterexamples: verdicts.flatMap((v) => (v.counterexample === undefined ? [] : [v.counterexample])),
      mismatches: mismatches.map((m) => ({ ...m })),
      errors: errors.map((e) => ({ ...e })),
      unknownExpectations: unknownExpect.map((u) => ({ ...u })),
    };
    io.stdout(`${JSON.stringify(doc)}\n`);
    return ok ? 0 : 1;
  }

  if (o.markdown === true) {
    const md: string[] = [];
    md.push(`Verdicts of \`iommu-model demo\`: ${scenarios.length} built-in scenarios under ${schemes.length} built-in schemes. Each cell: \`holds\`, \`violated (N)\` with N the steps of the shortest counterexample (0: the scenario's own records show it), or \`not run\` when the scenario's set-up fails under the scheme (nothing exercised, nothing claimed); properties a scenario does not exercise are left out.`, '');
    for (const r of runs) {
      md.push(`### ${r.name}`, '');
      if (r.error !== undefined) {
        md.push(`error: ${r.error}`, '');
        continue;
      }
      md.push(`| scheme | ${r.applicable.map(shortName).join(' | ')} |`, `|---|${r.applicable.map(() => '---').join('|')}|`);
      for (const row of r.rows) {
        const by = new Map(row.verdicts.map((v) => [v.property, v]));
        const cells = r.applicable.map((p) => (row.error !== undefined ? 'error' : cellText(by.get(p)!).replace(/ !$/, ' **!**')));
        md.push(`| ${row.scheme} | ${cells.join(' | ')} |`);
      }
      md.push('');
      for (const row of r.rows) if (row.setup !== null && row.setup !== undefined) md.push(`Not run under ${row.scheme}: ${setupText(row.setup)}.`, '');
    }
    md.push(`Legend: ${usedProps.map((p) => `${shortName(p)} \`${p}\``).join(', ')}. **!**: differs from the scheme's documented expectation.`);
    io.stdout(`${md.join('\n')}\n`);
    for (const m of mismatches) io.stderr(`${failLine(m)}\n`);
    for (const e of errors) io.stderr(`ERROR ${e.scenario}${e.scheme === null ? '' : ` under ${e.scheme}`}: ${e.message}\n`);
    io.stderr(`${summary}\n`);
    return ok ? 0 : 1;
  }

  say(`scenarios: ${scenarios.length} built-in scenarios under ${schemes.length} built-in schemes (explored up to ${DEMO_MAX_STATES} states each)`);
  say(`legend: ${legend}`);
  say(`cells: holds, violated (N) = the shortest counterexample has N steps (0: the scenario's own records), unknown = search cut before any violation, not run = the scenario's set-up fails under the scheme (nothing claimed), ! = differs from the scheme's documented expectation`);
  for (const r of runs) {
    say();
    if (r.error !== undefined) {
      say(`${r.name}: ERROR ${r.error}`);
      continue;
    }
    const na = PROPERTY_NAMES.length - r.applicable.length;
    say(`${r.name}${na > 0 ? ` (exercises ${r.applicable.length} properties; ${na} n/a)` : ''}`);
    const firstWidth = Math.max('scheme'.length, ...r.rows.map((row) => row.scheme.length));
    const table = r.rows.map((row) => {
      const by = new Map(row.verdicts.map((v) => [v.property, v]));
      return { scheme: row.scheme, cells: r.applicable.map((p) => (row.error !== undefined ? 'error' : cellText(by.get(p)!))) };
    });
    const widths = r.applicable.map((p, i) => Math.max(shortName(p).length, ...table.map((t) => t.cells[i]!.length)));
    say(`  ${'scheme'.padEnd(firstWidth)}  ${r.applicable.map((p, i) => shortName(p).padEnd(widths[i]!)).join('  ')}`.trimEnd());
    for (const t of table) say(`  ${t.scheme.padEnd(firstWidth)}  ${t.cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
    const rowVerdicts = r.rows.flatMap((row) => row.verdicts);
    const bad = compareVerdicts(rowVerdicts).length + r.rows.filter((row) => row.error !== undefined).length;
    const states = r.rows.reduce((n, row) => n + (row.report?.statesGenerated ?? 0), 0);
    say(`  ${rowVerdicts.filter((v) => v.got === 'violated').length} violations, ${states} states explored: ${bad === 0 ? 'every verdict as documented' : `${bad} not as documented`}`);
    for (const v of rowVerdicts) if (v.counterexample !== undefined) say(`  iommu-model replay ${v.counterexample} --scheme ${v.scheme}`);
    for (const row of r.rows) if (row.error !== undefined) say(`  ERROR under ${row.scheme}: ${row.error}`);
  }
  say();
  for (const n of notes) say(n);
  for (const u of unknownExpect) say(`note: scheme ${u.scheme} documents an expectation for '${u.scenario}', which is not a built-in scenario`);
  for (const m of mismatches) say(failLine(m));
  for (const e of errors) say(`ERROR ${e.scenario}${e.scheme === null ? '' : ` under ${e.scheme}`}: ${e.message}`);
  say(summary);
  say(ok ? 'every verdict matches the expectation its scheme documents' : 'some verdicts do not match the expectations their schemes document');
  return ok ? 0 : 1;
}
