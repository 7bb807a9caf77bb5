/**
 * `lockdep`'s output: the report as read, its cycle's dependencies against the model's graph
 * (each found one with the scenario, task, step and kernel function that gives it), the verdict,
 * and the model's cycle as a LockOrder finding prints it (./finding.ts detailLines), with the
 * `check` command that shows it. Lines fit WIDTH columns.
 */
import type { LockdepReport } from '../../import/lockdep.js';
import type { ClassMatch } from '../../import/lockdep-classes.js';
import type { ModelGraph, Relation, ReportEdge } from '../../run/lockdep.js';
import { lockdepName } from '../../vocab/locks.js';
import { detailLines, wrap, WIDTH } from './finding.js';

/** An item of a list: two spaces in, its continuation lines two more. */
function item(text: string): string[] {
  return wrap(text, WIDTH - 2).map((l) => `  ${l}`);
}

/** `check`'s command line for a scenario under a scheme. */
export function checkCommand(scenario: string, scheme: string): string {
  return `npx iommu-model check --scenario ${scenario}${scheme === 'upstream' ? '' : ` --scheme ${scheme}`}`;
}

function classText(c: ClassMatch): string {
  if (c.model !== null) return c.printed === lockdepName(c.model) ? 'modelled' : `modelled as ${lockdepName(c.model)}`;
  if (c.otherLock !== undefined) return `not modelled (${c.otherLock})`;
  if (c.row === null) return 'not modelled';
  return `not modelled${c.row.note === undefined ? '' : ` (${c.row.note})`}`;
}

function edgeLines(e: ReportEdge, scheme: string): string[] {
  const head = `${e.from.printed} -> ${e.to.printed}`;
  if (e.status === 'unmodelled') {
    const which = [e.from, e.to].filter((c) => c.model === null).map((c) => c.printed);
    return item(`${head}: not modelled (${[...new Set(which)].join(', ')})`);
  }
  if (e.status === 'missing') return item(`${head}: MISSING from the model under ${scheme}`);
  const w = e.witnesses[0]!;
  const fn = w.link.function === undefined ? '' : ` (${w.link.function})`;
  const held = w.link.held.length > 1 ? `, holding ${w.link.held.join(', ')}` : '';
  const more = e.witnesses.length > 1 ? `; also in ${e.witnesses.slice(1).map((x) => x.scenario).join(', ')}` : '';
  return item(`${head}: found in ${w.scenario}, task ${w.link.task} at ${w.link.where}${fn}${held}${more}`);
}

function reportLines(file: string, r: LockdepReport): string[] {
  const at = (l: { printed: string; at?: string }): string => `${l.printed}${l.at === undefined ? '' : ` at ${l.at}`}`;
  const verb = r.kind === 'inconsistent' ? 'takes' : r.kind === 'freed' ? `frees memory ${r.detail ?? ''} holding` : 'is trying to acquire';
  return [
    ...wrap(`${file}:${r.line}: ${r.title}${r.kernel === undefined ? '' : ` (${r.kernel})`}`, WIDTH),
    ...item(`${r.task.comm}/${r.task.pid} ${verb} ${at(r.lock)}${r.holding === undefined ? '' : `, holding ${at(r.holding)}`}`),
    ...(r.kind === 'inconsistent' && r.detail !== undefined ? [`  inconsistent ${r.detail} usage`] : []),
  ];
}

/** The text report. */
export function renderLockdep(file: string, r: LockdepReport, g: ModelGraph, rel: Relation): string {
  const out: string[] = [...reportLines(file, r), ''];
  if (r.kind === 'circular') {
    out.push('The cycle as lockdep chains it (#k taken holding #k-1, #0 holding the last):');
    for (const e of r.chain) {
      const c = rel.classes[e.index]!;
      out.push(...item(`#${e.index} ${e.lock.printed}: ${classText(c)}${e.stack.length === 0 ? '' : `; ${e.stack.join(' < ')}`}`));
    }
    out.push('', `Its dependencies against the model under ${g.scheme}:`);
    for (const e of rel.edges) out.push(...edgeLines(e, g.scheme));
  } else {
    out.push('Its locks:');
    for (const c of rel.classes) out.push(...item(`${c.printed}: ${classText(c)}`));
  }
  if (r.held.length > 0) out.push('', ...wrap(`Held by ${r.task.comm}/${r.task.pid}: ${r.held.map((h) => `${h.printed}${h.at === undefined ? '' : ` (${h.at})`}`).join(', ')}`, WIDTH));
  const explored = g.scenarios.filter((s) => s.skipped === undefined);
  const cut = explored.filter((s) => !s.exhausted).map((s) => s.name);
  if (g.scenarios.length > 0) out.push('', ...wrap(`The model: ${explored.length} built-in scenarios explored under ${g.scheme} (${explored.reduce((a, s) => a + s.states, 0)} states${cut.length === 0 ? ', every schedule' : `; cut off by --max-states: ${cut.join(', ')}`})${g.scenarios.length > explored.length ? `; not run: ${g.scenarios.filter((s) => s.skipped !== undefined).map((s) => s.name).join(', ')}` : ''}.`, WIDTH));
  out.push('', ...wrap(`${rel.found ? 'FOUND' : 'NOT FOUND'}: ${rel.why}.`, WIDTH));
  if (rel.cycle !== null) {
    const title = rel.found ? 'The model\'s cycle' : 'The model\'s own cycle through these classes';
    out.push('', ...wrap(`${title}${rel.cycle.scenario.startsWith('(') ? ', from the edges above' : ` (scenario ${rel.cycle.scenario})`}:`, WIDTH));
    out.push(...detailLines(rel.cycle.detail));
    if (rel.scenario !== null) out.push('', `See it: ${checkCommand(rel.scenario, g.scheme)}`);
  }
  return `${out.join('\n')}\n`;
}

/** The JSON document. */
export function lockdepJson(file: string, r: LockdepReport, g: ModelGraph, rel: Relation): string {
  const cls = (c: ClassMatch): object => ({ printed: c.printed, model: c.model, ...(c.row === null ? {} : { field: c.row.field }), ...(c.row?.note === undefined ? {} : { note: c.row.note }), ...(c.otherLock === undefined ? {} : { otherLock: c.otherLock }) });
  const doc = {
    file,
    report: r,
    scheme: g.scheme,
    scenarios: g.scenarios,
    classes: rel.classes.map(cls),
    edges: rel.edges.map((e) => ({ from: e.from.printed, to: e.to.printed, status: e.status, witnesses: e.witnesses.map((w) => ({ scenario: w.scenario, ...w.link })) })),
    found: rel.found,
    why: rel.why,
    cycle: rel.cycle === null ? null : { scenario: rel.cycle.scenario, classes: rel.cycle.classes, ...rel.cycle.detail },
    command: rel.scenario === null ? null : checkCommand(rel.scenario, g.scheme),
  };
  return `${JSON.stringify(doc)}\n`;
}
