/**
 * The plain-text output of every command, as pure functions from data to strings (no io, no
 * files): replay's report, --why and --at; check's report; the lists; the demo's golden logs,
 * verdict tables, notes and summary. The Markdown renderer reuses the cell and summary texts.
 */
import { PROPERTY_NAMES, verdictPhrase, verdictWord, type PropertyName } from '../../vocab/properties.js';
import type { ExploreReport, Finding } from '../../run/explore.js';
import { collisionProbability, formatProbability } from '../../run/visited.js';
import { meets, outcomeJson, stimulusJson, type Divergence, type ReplayReport, type StepRecord } from '../../run/replay.js';
import type { Violation } from '../../checks/properties.js';
import type { Outcome } from '../../core/tx.js';
import { compareVerdicts, type DemoSummary, type GoldenResult, type Mismatch, type PairProgress, type RunError, type ScenarioRun, type Verdict } from '../../run/verdicts.js';
import type { Scheme } from '../../schemes/scheme.js';
import type { Derived, JsonValue, Stimulus } from '../../vocab/records.js';
import { diffText } from './diff.js';
import { detailLines } from './finding.js';
import { tableLines } from './table.js';
import { paint, PLAIN, type Term } from './term.js';

/** A violation of a replay as its report prints it: one line, then lockdep's chain and scenario. */
export function violationLines(v: Violation): string[] {
  return [`violation ${v.property} at ${v.seq}: ${v.message}`, ...detailLines(v)];
}

/** A finding of check as its report prints it: one line, the schedule, lockdep's chain and scenario. */
export function findingLines(f: Finding): string[] {
  return [`${f.property}: ${f.message}`, `  schedule: ${f.schedule.join(' ') || '(the log itself)'}`, ...detailLines(f)];
}


/** How a printed command is run: through npx, which finds the package's bin wherever it is installed. */
export const COMMAND = 'npx iommu-model';

/** A property and its verdict, the verdict coloured when the Term colours: red violated, green holds. */
function verdictShown(term: Term, p: PropertyName, v: 'holds' | 'violated' | 'unknown'): string {
  return verdictPhrase(p, v, (w) => paint(term, v === 'violated' ? 'red' : v === 'holds' ? 'green' : 'yellow', w));
}

export function renderReport(file: string, r: ReplayReport, term: Term = PLAIN): string {
  const lines = [`${file}: ${r.records} records, ${r.derived} derived, scheme ${r.scheme}, world ${r.fingerprint}`];
  lines.push(`kernel: Linux v${r.kernel}`);
  for (const d of r.divergences) {
    lines.push(`${paint(term, 'red', 'divergence')} at ${d.seq} (${d.op}, line ${d.line}): ${diffText(d.expected, d.actual)}`);
    lines.push(`  decided by ${d.decidedBy}`);
  }
  for (const v of r.violations) lines.push(...violationLines(v));
  const violated = new Set(r.violations.map((v) => v.property));
  lines.push(`properties: ${PROPERTY_NAMES.map((p) => verdictShown(term, p, violated.has(p) ? 'violated' : 'holds')).join(', ')}`);
  if (r.divergences.length === 0 && r.violations.length === 0) lines.push('clean');
  return `${lines.join('\n')}\n`;
}

export function describeDerived(d: Derived): string {
  const { op, cause, id, via, ...rest } = d;
  void cause;
  void via;
  return `${d.cause}.${id} ${op} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`;
}

/** The derived records of one record as a tree: each indented below the record it follows from. */
function derivedTree(derived: readonly Derived[]): string[] {
  const depth = new Map<number, number>();
  return derived.map((d) => {
    const k = d.via === undefined ? 1 : (depth.get(d.via) ?? 0) + 1;
    depth.set(d.id, k);
    return `${'  '.repeat(k)}${describeDerived(d)}`;
  });
}

/** An outcome in words: `ret 4`, `errno EINVAL (decided by ...)`, `dma fault`, `signal SIGBUS`, `oops ...`. */
export function outcomeText(o: Outcome): string {
  const j = outcomeJson(o);
  const parts = Object.entries(j).map(([k, v]) => `${k} ${typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v)}`);
  const decided = o.errno !== undefined || o.oops !== undefined ? ` (decided by ${o.decidedBy})` : '';
  return `${parts.join(', ') || 'done'}${decided}`;
}

/** A record's fields as `k=v` (the op, seq, line, expect and comment left out). */
export function fieldsText(s: Stimulus): string {
  const rec = stimulusJson(s, false);
  return Object.entries(rec)
    .filter(([k]) => k !== 'op' && k !== 'seq' && k !== 'comment')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * replay --trace: every record on one line (seq, op, its fields, its outcome: what its path
 * returned, even without an `expect`; for a step record, the stimulus whose path returned with
 * it), then its derived records as a tree and the violations reported at it.
 */
export function renderTrace(steps: readonly StepRecord[], violations: readonly Violation[]): string {
  const bySeq = new Map<number, Violation[]>();
  for (const v of violations) bySeq.set(v.seq, [...(bySeq.get(v.seq) ?? []), v]);
  const lastOf = new Map(steps.map((st, i) => [st.stimulus.seq, i]));
  const lines: string[] = [];
  steps.forEach((st, i) => {
    const s = st.stimulus;
    const head = s.op === 'step' ? `${s.seq} step ${s.task}${st.step === undefined ? '' : ` (${st.step})`}` : `${s.seq} ${s.op} ${fieldsText(s)}`;
    const r = st.returned;
    let tail = '';
    if (r === undefined) tail = s.op === 'step' ? '' : ` -> queued on task ${s.task}`;
    else {
      const missed = r.expect !== undefined && st.outcome !== null && !meets(r.expect, st.outcome) ? ' (differs from its expect)' : '';
      tail = ` -> ${r === s ? '' : `${r.seq} ${r.op} returned: `}${outcomeText(st.outcome!)}${missed}`;
    }
    lines.push(`${head}${tail}`, ...derivedTree(st.derived));
    if (lastOf.get(s.seq) === i) for (const v of bySeq.get(s.seq) ?? []) lines.push(`  ! ${v.property}: ${v.message}`);
  });
  return `${lines.join('\n')}\n`;
}

export function renderWhy(step: StepRecord, chain: readonly Derived[], whole: boolean): string {
  const s = step.stimulus;
  const returned = step.outcome === null ? '' : ` -> ${JSON.stringify(outcomeJson(step.outcome))}, decided by ${step.outcome.decidedBy}`;
  const stim = `${s.seq} ${s.op}${s.task === undefined ? '' : ` ${s.task}`} (line ${s.line})${returned}`;
  if (whole) return `${[stim, ...derivedTree(chain)].join('\n')}\n`;
  return `${[...chain.map((d, i) => `${'  '.repeat(i === 0 ? 0 : 1)}${i === 0 ? '' : 'because '}${describeDerived(d)}`), `  because ${stim}`].join('\n')}\n`;
}

export function renderWorld(seq: number, w: { [k: string]: JsonValue }): string {
  const out: string[] = [`world after record ${seq}`];
  const list = (k: string): Array<Record<string, JsonValue>> => (w[k] as Array<Record<string, JsonValue>>) ?? [];
  for (const c of list('containers')) {
    out.push(`container ${c['id']} (${c['state']}${c['driver'] === null ? '' : `, ${c['driver']}`}) groups [${(c['groups'] as string[]).join(', ')}] dma_avail ${c['dma_avail']}`);
    for (const m of c['mappings'] as Array<Record<string, JsonValue>>) {
      out.push(`  iova ${m['iova']} size ${m['size']} vaddr ${m['vaddr']} ${(m['prot'] as string[]).join('|')} ${m['state']} task ${m['task']} locked_vm ${m['locked_vm']} -> ${(m['targets'] as string[]).join(', ') || '(not pinned)'}${m['pfn_list'] ? ` pfn_list ${m['pfn_list']}` : ''}`);
    }
  }
  for (const p of list('processes')) {
    const mm = p['mm'] as Record<string, JsonValue>;
    out.push(`process ${p['pid']} (${p['state']}) mm ${mm['id']} (${mm['state']}) locked_vm ${mm['locked_vm']} pages${mm['pasid'] === null ? '' : ` pasid ${mm['pasid']}`}`);
    for (const f of p['fds'] as string[]) out.push(`  fd ${f}`);
    for (const v of p['vmas'] as Array<Record<string, JsonValue>>) out.push(`  vma ${v['start']}-${v['end']} ${v['kind']}${v['kind'] === 'bar' ? ` ${v['device']} bar${v['bar']} ${v['state']}` : v['backed'] ? ' backed' : ''}`);
  }
  for (const d of list('devices')) out.push(`device ${d['device']} group ${d['group']} ${d['state']} open_count ${d['open_count']} memory ${d['memory'] ? 'on' : 'off'}`);
  for (const p of list('pasids')) out.push(`pasid ${p['pasid']} ${p['state']}${p['mm'] === null ? '' : ` mm ${p['mm']}`}`);
  return `${out.join('\n')}\n`;
}

/** One `check` run, as its renderers show it. */
export interface CheckRun {
  /** The scenario and scheme as the user named them. */
  readonly scenario: string;
  readonly schemeArg: string;
  readonly scheme: string;
  readonly report: ExploreReport;
  readonly seconds: number;
  readonly statesPerSecond: number;
  /** The counterexample written with --out: its file and the finding it shows. */
  readonly counterexample?: { readonly file: string; readonly finding: Finding };
  /** The checkpoint the search was resumed from (--resume). */
  readonly resumedFrom?: string;
  /** The checkpoint written for a search cut off (--checkpoint, or the --resume file). */
  readonly checkpoint?: string;
}

/** A verdict of check in words: `holds`, `VIOLATED (3 steps, at record 14)`, `not violated so far`. */
function checkVerdict(term: Term, p: PropertyName, f: Finding | undefined, exhausted: boolean): string {
  if (f !== undefined) return paint(term, 'red', `${verdictWord(p, 'violated')} (${f.schedule.length} steps, at record ${f.seq})`);
  return exhausted ? paint(term, 'green', verdictWord(p, 'holds')) : paint(term, 'yellow', verdictWord(p, 'unknown'));
}

export function renderCheck(c: CheckRun, term: Term = PLAIN): string {
  const { report } = c;
  const byProperty = new Map(report.findings.map((f) => [f.property, f]));
  const lines = [
    `${c.scenario} under ${c.scheme}: tasks ${report.tasks.join(', ') || '(none)'}`,
    `kernel: Linux v${report.kernel}`,
    `${report.statesGenerated} states generated, ${report.distinctStates} distinct, depth ${report.depth}, ${report.terminalStates} terminal, ${c.seconds.toFixed(2)} s (${c.statesPerSecond} states/s), ${report.exhausted ? 'exhausted' : `not exhausted: ${report.statesGenerated} states (${report.cutOff ?? '--max-states'})`}`,
    `fingerprint collision probability (53-bit), calculated (optimistic): val = ${formatProbability(collisionProbability(report.distinctStates))}`,
    ...(c.resumedFrom === undefined ? [] : [`resumed from ${c.resumedFrom} at ${report.resumedAt ?? 0} states`]),
    report.reduction === true ? `partial-order reduction: sleep sets, ${report.pruned ?? 0} transitions not taken` : 'partial-order reduction: off (--reduction turns it on)',
    report.symmetry === true ? 'symmetry: states equal up to vfio_dma ids and RAM addresses are one' : 'symmetry: off (--symmetry turns it on)',
    ...tableLines(null, PROPERTY_NAMES.map((p) => [p, checkVerdict(term, p, byProperty.get(p), report.exhausted)]), 2),
  ];
  for (const f of report.findings) lines.push(...findingLines(f));
  if (!report.exhausted && report.findings.length === 0) lines.push(`not exhausted: ${report.statesGenerated} states; no violation found so far, so no property is shown to hold (exit 4)`);
  // the counterexample's header names the scheme; a scheme file must be named again (--scheme)
  const schemeFlag = c.schemeArg === c.scheme ? '' : ` --scheme ${c.schemeArg}`;
  if (c.counterexample !== undefined) lines.push(`counterexample (${c.counterexample.finding.property}) written to ${c.counterexample.file}:`, `  ${COMMAND} replay ${c.counterexample.file}${schemeFlag}`);
  if (c.checkpoint !== undefined) lines.push(`checkpoint written to ${c.checkpoint}:`, `  ${COMMAND} check --scenario ${c.scenario} --scheme ${c.schemeArg} --resume ${c.checkpoint}`);
  return `${lines.join('\n')}\n`;
}

/** The lines of `scenarios`: each name and what it shows. */
export function renderScenarios(scenarios: readonly { readonly name: string; readonly description: string }[], term: Term = PLAIN): string {
  return `${tableLines(null, scenarios.map((s) => [s.name, s.description]), 0, term.width).join('\n')}\n`;
}

export function renderSchemes(schemes: readonly Scheme[], term: Term = PLAIN): string {
  const rows = schemes.flatMap((s) => [[s.name, s.summary], ...(s.expectNotRun.length > 0 ? [['', `(cannot run the set-up of: ${s.expectNotRun.join(', ')})`]] : [])]);
  return `${tableLines(null, rows, 0, term.width).join('\n')}\n`;
}

export function renderProperties(gloss: Readonly<Record<PropertyName, string>>, term: Term = PLAIN): string {
  return `${tableLines(null, Object.entries(gloss), 0, term.width).join('\n')}\n`;
}

/** check's progress line on a terminal. */
export function renderExploreProgress(p: { generated: number; distinct: number; depth: number }): string {
  return `${p.generated} states, ${p.distinct} distinct, depth ${p.depth}...`;
}

/** demo's progress line on a terminal: the pair being explored, and its states so far. */
export function renderPairProgress(p: PairProgress): string {
  return `scenario ${p.index}/${p.total}: ${p.scenario} under ${p.scheme}...${p.generated === undefined ? '' : ` ${p.generated} states`}`;
}

/** A short column header: the capitals of the property's name (NoDmaUseAfterFree: NDUAF). */
export function shortName(p: PropertyName): string {
  return p.replace(/[^A-Z]/g, '');
}

/**
 * A verdict table cell: `holds`, `violated (N)` (`none` and `found (N)` for a property named for
 * its hazard), `unknown (cut off)`, `not run`, `n/a`; `!` when it differs from the documented
 * expectation.
 */
export function cellText(v: Verdict): string {
  const t = v.got === 'violated' ? `${verdictWord(v.property, 'violated').toLowerCase()} (${v.steps})` : v.got === 'holds' ? verdictWord(v.property, 'holds') : v.got === 'unknown' ? 'unknown (cut off)' : v.got;
  return v.got === v.expected ? t : `${t} !`;
}

/** A cell as the terminal shows it: a violation red, a difference from the expectation bold. */
function cellShown(term: Term, v: Verdict): string {
  const t = cellText(v);
  return v.got !== v.expected ? paint(term, 'bold', paint(term, 'red', t)) : v.got === 'violated' ? paint(term, 'red', t) : t;
}

/** A failed set-up record, in one line: `record 5 (open, line 5): expected {"ret":4}, got {"errno":"ENOENT"} (…)`. */
export function setupText(d: Divergence): string {
  return `record ${d.seq} (${d.op}, line ${d.line}) ${diffText(d.expected, d.actual)} (${d.decidedBy})`;
}

/** The golden logs replayed (`dir` as it is shown). */
function goldenLines(golden: readonly GoldenResult[], dir: string, term: Term): string[] {
  const rows = golden.map((g) => [
    g.match ? 'ok' : paint(term, 'red', 'FAIL'),
    g.log,
    `${g.records} records`,
    `${g.divergences} divergences`,
    `violations: ${g.violations.join(', ') || 'none'}${g.match ? '' : ` (expected: ${g.expected.join(', ') || 'none'})`}`,
  ]);
  return [
    `golden logs: replaying ${golden.length} logs (${dir})`,
    ...tableLines(null, rows, 2, term.width),
    golden.every((g) => g.match) ? '  every golden log replays as documented' : paint(term, 'red', '  some golden logs did not replay as documented'),
  ];
}

function failLine(m: Mismatch): string {
  return `FAIL scheme ${m.scheme}, scenario ${m.scenario}, property ${m.property}: expected ${m.expected}, got ${m.got}`;
}

function errorLine(e: RunError): string {
  return `ERROR ${e.scenario}${e.scheme === null ? '' : ` under ${e.scheme}`}: ${e.message}`;
}

function summaryLine(s: DemoSummary, seconds: number): string {
  const { counts } = s;
  return `${s.scenarioCount} scenarios x ${s.schemeCount} schemes: ${s.verdicts.length} verdicts, ${counts.holds} hold, ${counts.violated} violated, ${counts['n/a']} n/a${counts['not run'] > 0 ? `, ${counts['not run']} not run` : ''}${counts.unknown > 0 ? `, ${counts.unknown} unknown (search cut at ${s.maxStates} states)` : ''}; ${s.mismatches.length} differ from the documented expectation${s.errors.length > 0 ? `, ${s.errors.length} errors` : ''} (${seconds.toFixed(1)} s)`;
}

/** The demo's closing lines: each mismatch, each error, the summary (Markdown prints them on stderr). */
export function renderDemoOutcome(s: DemoSummary, seconds: number): string {
  return `${demoOutcomeLines(s, seconds, PLAIN).join('\n')}\n`;
}

function renderScenarioTable(r: ScenarioRun, term: Term): string[] {
  if (r.error !== undefined) return [`${r.name}: ERROR ${r.error}`];
  const na = PROPERTY_NAMES.length - r.applicable.length;
  const lines = [paint(term, 'bold', `${r.name}${na > 0 ? ` (exercises ${r.applicable.length} properties; ${na} n/a)` : ''}`)];
  const rows = r.rows.map((row) => {
    const by = new Map(row.verdicts.map((v) => [v.property, v]));
    return [row.scheme, ...r.applicable.map((p) => (row.error !== undefined ? 'error' : cellShown(term, by.get(p)!)))];
  });
  lines.push(...tableLines(['scheme', ...r.applicable.map(shortName)], rows, 2));
  const rowVerdicts = r.rows.flatMap((row) => row.verdicts);
  const bad = compareVerdicts(rowVerdicts).length + r.rows.filter((row) => row.error !== undefined).length;
  const states = r.rows.reduce((n, row) => n + (row.report?.statesGenerated ?? 0), 0);
  lines.push(`  ${rowVerdicts.filter((v) => v.got === 'violated').length} violations, ${states} states explored: ${bad === 0 ? 'every verdict as documented' : `${bad} not as documented`}`);
  for (const v of rowVerdicts) if (v.counterexample !== undefined) lines.push(`  ${replayCommand(v)}`);
  for (const row of r.rows) if (row.error !== undefined) lines.push(`  ERROR under ${row.scheme}: ${row.error}`);
  return lines;
}

/**
 * The command that shows a violated verdict's counterexample, as it can be pasted: its header
 * names the built-in scheme it was found under, which replay uses (no --scheme needed).
 */
export function replayCommand(v: Verdict): string {
  return `${COMMAND} replay ${v.counterexample!}`;
}

/** The notes under the tables: pairs not run, and violations of properties a scenario does not exercise. */
function demoNotes(s: DemoSummary): string[] {
  const notes = s.runs.flatMap((r) =>
    r.rows.flatMap((row) => {
      const applicable = new Set(r.applicable);
      const notRun = row.setup === null || row.setup === undefined ? [] : [`note: ${r.name} under ${row.scheme} is not run: ${setupText(row.setup)}`];
      return [...notRun, ...(row.report?.findings ?? []).filter((f) => !applicable.has(f.property)).map((f) => `note: ${r.name} under ${row.scheme} also violates ${f.property} (${f.schedule.length} steps), which the scenario does not exercise (n/a)`)];
    }),
  );
  return [...notes, ...s.unknownExpectations.map((u) => `note: scheme ${u.scheme} documents an expectation for '${u.scenario}', which is not a built-in scenario`)];
}

/** The scheme the kernel is: its violations are hazards of Linux itself, so the summary opens with them. */
export const UPSTREAM = 'upstream';

/**
 * The demo's opening: upstream's hazards first (each violated verdict of the kernel as it is, with
 * the command that shows it), then each scheme's score over the scenarios, then the outcome.
 */
function demoSummaryLines(s: DemoSummary, seconds: number, term: Term): string[] {
  const hazards = s.verdicts.filter((v) => v.scheme === UPSTREAM && v.got === 'violated');
  const lines = [
    paint(term, 'bold', `iommu-model demo: ${s.scenarioCount} built-in scenarios under ${s.schemeCount} built-in schemes, Linux ${s.kernel.map((k) => `v${k}`).join(', ')} (${seconds.toFixed(1)} s)`),
    '',
    hazards.length === 0
      ? `${UPSTREAM} (the kernel as it is): no hazard found in the built-in scenarios`
      : paint(term, 'bold', `${UPSTREAM} (the kernel as it is): ${hazards.length} hazard${hazards.length === 1 ? '' : 's'} found`),
    // each hazard on a line, aligned, with the command that shows it below it
    ...tableLines(null, hazards.map((v) => [v.scenario, v.property, `${v.steps} step${v.steps === 1 ? '' : 's'}`]), 2).flatMap((line, i) => [line, ...(hazards[i]!.counterexample === undefined ? [] : [`      ${replayCommand(hazards[i]!)}`])]),
    '',
    'schemes: verdicts over the scenarios each runs (violated, holds, cut off, not run; differing from what the scheme documents)',
  ];
  const schemes = [...new Set(s.verdicts.map((v) => v.scheme))];
  const rows = schemes.map((name) => {
    const vs = s.verdicts.filter((v) => v.scheme === name);
    const n = (o: Verdict['got']): number => vs.filter((v) => v.got === o).length;
    const differ = s.mismatches.filter((m) => m.scheme === name).length;
    return [name, `${n('violated')} violated`, `${n('holds')} hold`, `${n('unknown')} cut off`, `${n('not run')} not run`, differ === 0 ? 'as documented' : paint(term, 'red', `${differ} differ`)];
  });
  lines.push(...tableLines(null, rows, 2), '', ...demoOutcomeLines(s, seconds, term));
  return lines;
}

function demoOutcomeLines(s: DemoSummary, seconds: number, term: Term): string[] {
  return [
    ...s.mismatches.map(failLine),
    ...s.errors.map(errorLine),
    summaryLine(s, seconds),
    s.ok ? paint(term, 'green', 'every verdict matches the expectation its scheme documents') : paint(term, 'red', 'some verdicts do not match the expectations their schemes document'),
  ];
}

/**
 * The demo as text: the summary (upstream's hazards, each scheme's score, the outcome), the
 * golden logs (`goldenDir` as shown), the legend, one table per scenario, the notes, and the
 * outcome again as the last lines, where a terminal leaves them in view.
 */
export function renderDemoText(s: DemoSummary, seconds: number, goldenDir: string, term: Term = PLAIN): string {
  const lines = [
    ...demoSummaryLines(s, seconds, term),
    '',
    ...goldenLines(s.golden, goldenDir, term),
    '',
    `scenarios, explored up to ${s.maxStates} states each`,
    `legend: ${s.exercised.map((p) => `${shortName(p)} ${p}`).join(', ')}`,
    `cells: holds (none for a property named for its hazard); violated (N), found (N) = the shortest counterexample has N steps (0: the scenario's own records); unknown (cut off) = search cut before any violation, so holds is not shown; not run = the scenario's set-up fails under the scheme (nothing claimed); ! = differs from the scheme's documented expectation`,
  ];
  for (const r of s.runs) lines.push('', ...renderScenarioTable(r, term));
  lines.push('', ...demoNotes(s), '', ...demoOutcomeLines(s, seconds, term));
  return `${lines.join('\n')}\n`;
}
