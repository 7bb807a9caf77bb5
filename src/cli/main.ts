/**
 * The command line: commands registered from a table (commander parses the arguments), one
 * top-level catch that maps typed errors to exit codes (SPEC 3). The only place that prints,
 * reads files or exits.
 */
import { Command, CommanderError } from 'commander';
import { GLOSS, PROPERTY_NAMES } from '../vocab/properties.js';
import { counterexampleLines } from '../run/counterexample.js';
import { explore, scenarioOf } from '../run/explore.js';
import type { LogItem } from '../log/reader.js';
import { builtinScenarios, loadScheme, scenarioFile } from './resolve.js';
import { describeWorld } from '../core/view.js';

import { InputError, ModelError } from '../vocab/errors.js';
import type { Derived, Header, JsonValue } from '../vocab/records.js';
import { Replay, outcomeJson, recordLines, type ReplayReport, type StepRecord } from '../run/replay.js';
import { builtinSchemes } from '../schemes/catalogue.js';
import { runDemo, setupFailure, type DemoOptions } from './demo.js';
import { streamLog, writeAtomic } from './io.js';

export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  readonly isTTY: boolean;
}

/** Exit codes of SPEC 3: 0 clean, 1 violation or divergence, 2 bad input. 3: a model bug. */
const EXIT_CLEAN = 0;
const EXIT_FOUND = 1;
const EXIT_INPUT = 2;
const EXIT_BUG = 3;

interface ReplayOptions {
  scheme?: string;
  json?: boolean;
  at?: string;
  why?: string;
  record?: string;
}

function parseSeq(v: string, flag: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new InputError('<command line>', null, flag, `expected a positive record number, got '${v}'`);
  return Number(v);
}

async function runReplay(io: Io, file: string, o: ReplayOptions): Promise<number> {
  const at = o.at === undefined ? undefined : parseSeq(o.at, '--at');
  let why: { seq: number; id: number } | undefined;
  if (o.why !== undefined) {
    const m = /^([1-9][0-9]*)(?:\.([1-9][0-9]*))?$/.exec(o.why);
    if (m === null) throw new InputError('<command line>', null, '--why', `expected <seq> or <seq>.<derived id>, got '${o.why}'`);
    why = { seq: Number(m[1]), id: m[2] === undefined ? 0 : Number(m[2]) };
  }
  const recording: string[] = [];
  let whyStep: StepRecord | undefined;
  let atView: { [k: string]: JsonValue } | undefined;
  let replay: Replay | undefined;
  let stop = false;
  const onStep = (r: StepRecord): void => {
    if (o.record !== undefined) recording.push(...recordLines(r));
    if (why !== undefined && r.stimulus.seq === why.seq) whyStep = r;
    if (at !== undefined && r.stimulus.seq === at) {
      atView = describeWorld(replay!.world);
      stop = true;
    }
  };
  const schemeOverride = o.scheme === undefined ? undefined : await loadScheme(o.scheme);
  await streamLog(
    file,
    (h) => {
      replay = new Replay(h, file, onStep, schemeOverride);
      if (o.record !== undefined) recording.push(JSON.stringify(h));
    },
    (it) => {
      if (!stop) replay!.push(it);
    },
  );
  const report = replay!.finish();
  if (at !== undefined) {
    if (atView === undefined) throw new InputError(file, null, '--at', `no record with seq ${at}`);
    io.stdout(o.json === true ? `${JSON.stringify({ seq: at, world: atView })}\n` : renderWorld(at, atView));
    return EXIT_CLEAN;
  }
  if (why !== undefined) {
    if (whyStep === undefined) throw new InputError(file, null, '--why', `no stimulus with seq ${why.seq}`);
    const chain = whyChain(whyStep, why.id);
    if (chain === null) throw new InputError(file, null, '--why', `record ${why.seq} caused no derived record ${why.id}`);
    io.stdout(o.json === true ? `${JSON.stringify({ seq: o.why, chain })}\n` : renderWhy(whyStep, chain, why.id === 0));
    return EXIT_CLEAN;
  }
  if (o.record !== undefined) writeAtomic(o.record, `${recording.join('\n')}\n`);
  io.stdout(o.json === true ? `${JSON.stringify(reportJson(file, report))}\n` : renderReport(file, report));
  return report.divergences.length > 0 || report.violations.length > 0 ? EXIT_FOUND : EXIT_CLEAN;
}

function reportJson(file: string, r: ReplayReport): { [k: string]: JsonValue } {
  return {
    log: file,
    scheme: r.scheme,
    records: r.records,
    derived: r.derived,
    fingerprint: r.fingerprint,
    divergences: r.divergences.map((d) => ({ seq: d.seq, op: d.op, line: d.line, expected: d.expected, actual: d.actual, decidedBy: d.decidedBy })),
    violations: r.violations.map((v) => ({ property: v.property, seq: v.seq, message: v.message })),
  };
}

function renderReport(file: string, r: ReplayReport): string {
  const lines = [`${file}: ${r.records} records, ${r.derived} derived, scheme ${r.scheme}, world ${r.fingerprint}`];
  for (const d of r.divergences) {
    lines.push(`divergence at ${d.seq} (${d.op}, line ${d.line}): expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}`);
    lines.push(`  decided by ${d.decidedBy}`);
  }
  for (const v of r.violations) lines.push(`violation ${v.property} at ${v.seq}: ${v.message}`);
  const violated = new Set(r.violations.map((v) => v.property));
  lines.push(`properties: ${PROPERTY_NAMES.map((p) => `${p} ${violated.has(p) ? 'VIOLATED' : 'holds'}`).join(', ')}`);
  if (r.divergences.length === 0 && r.violations.length === 0) lines.push('clean');
  return `${lines.join('\n')}\n`;
}

/** The derived records from `id` back to the stimulus, following `via`. id 0: the whole tree. */
function whyChain(step: StepRecord, id: number): Derived[] | null {
  if (id === 0) return [...step.derived];
  const byId = new Map(step.derived.map((d) => [d.id, d]));
  const chain: Derived[] = [];
  let cur = byId.get(id);
  if (cur === undefined) return null;
  while (cur !== undefined) {
    chain.push(cur);
    cur = cur.via === undefined ? undefined : byId.get(cur.via);
  }
  return chain;
}

function describeDerived(d: Derived): string {
  const { op, cause, id, via, ...rest } = d;
  void cause;
  void via;
  return `${d.cause}.${id} ${op} ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`;
}

function renderWhy(step: StepRecord, chain: Derived[], whole: boolean): string {
  const s = step.stimulus;
  const returned = step.outcome === null ? '' : ` -> ${JSON.stringify(outcomeJson(step.outcome))}, decided by ${step.outcome.decidedBy}`;
  if (whole) {
    // The whole tree of one stimulus, indented by cause.
    const depth = new Map<number, number>();
    const lines = [`${s.seq} ${s.op}${s.task === undefined ? '' : ` ${s.task}`} (line ${s.line})${returned}`];
    for (const d of chain) {
      const k = d.via === undefined ? 1 : (depth.get(d.via) ?? 0) + 1;
      depth.set(d.id, k);
      lines.push(`${'  '.repeat(k)}${describeDerived(d)}`);
    }
    return `${lines.join('\n')}\n`;
  }
  const stim = `${s.seq} ${s.op}${s.task === undefined ? '' : ` ${s.task}`} (line ${s.line})${returned}`;
  return `${[...chain.map((d, i) => `${'  '.repeat(i === 0 ? 0 : 1)}${i === 0 ? '' : 'because '}${describeDerived(d)}`), `  because ${stim}`].join('\n')}\n`;
}

function renderWorld(seq: number, w: { [k: string]: JsonValue }): string {
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

interface CheckOptions {
  scenario: string;
  scheme: string;
  maxStates: string;
  out?: string;
  json?: boolean;
}

async function runCheck(io: Io, o: CheckOptions): Promise<number> {
  if (!/^[1-9][0-9]*$/.test(o.maxStates)) throw new InputError('<command line>', null, '--max-states', `expected a positive integer, got '${o.maxStates}'`);
  const scheme = await loadScheme(o.scheme);
  const file = scenarioFile(o.scenario);
  let header: Header | undefined;
  const items: LogItem[] = [];
  await streamLog(file, (h) => {
    header = h;
  }, (it) => items.push(it));
  const sc = scenarioOf(header!, items, file);
  // A scheme that refuses the scenario's set-up (noiommu has no /dev/vfio/<group>) leaves nothing
  // to explore: no property can be said to hold, so the pair is bad input, named by its record.
  const setup = setupFailure(header!, items, file, scheme);
  if (setup !== null) {
    throw new InputError(file, setup.line, 'expect', `the scenario's set-up fails under scheme '${scheme.name}': record ${setup.seq} (${setup.op}) expected ${JSON.stringify(setup.expected)}, got ${JSON.stringify(setup.actual)} (${setup.decidedBy}); nothing to explore`);
  }
  const t0 = process.hrtime.bigint();
  const progress = io.isTTY
    ? (p: { generated: number; distinct: number; depth: number }) => io.stderr(`\r${p.generated} states, ${p.distinct} distinct, depth ${p.depth}...`)
    : undefined;
  const report = explore(sc, scheme, { maxStates: Number(o.maxStates), ...(progress === undefined ? {} : { onProgress: progress }) });
  if (progress !== undefined) io.stderr('\r\x1b[K');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const rate = Math.round(report.statesGenerated / Math.max(seconds, 1e-6));
  const byProperty = new Map(report.findings.map((f) => [f.property, f]));
  const first = PROPERTY_NAMES.map((p) => byProperty.get(p)).find((f) => f !== undefined);
  if (o.out !== undefined && first !== undefined) writeAtomic(o.out, `${counterexampleLines(sc, scheme, first).join('\n')}\n`);
  if (o.json === true) {
    io.stdout(`${JSON.stringify({
      scenario: o.scenario,
      scheme: scheme.name,
      tasks: report.tasks,
      statesGenerated: report.statesGenerated,
      distinctStates: report.distinctStates,
      depth: report.depth,
      terminalStates: report.terminalStates,
      exhausted: report.exhausted,
      seconds: Number(seconds.toFixed(3)),
      statesPerSecond: rate,
      lockEdges: report.lockEdges,
      properties: Object.fromEntries(PROPERTY_NAMES.map((p) => [p, byProperty.has(p) ? 'violated' : report.exhausted ? 'holds' : 'not violated so far'])),
      violations: report.findings.map((f) => ({ property: f.property, seq: f.seq, message: f.message, schedule: f.schedule, steps: f.schedule.length })),
      ...(o.out !== undefined && first !== undefined ? { counterexample: o.out } : {}),
    })}\n`);
  } else {
    const lines = [
      `${o.scenario} under ${scheme.name}: tasks ${report.tasks.join(', ') || '(none)'}`,
      `${report.statesGenerated} states generated, ${report.distinctStates} distinct, depth ${report.depth}, ${report.terminalStates} terminal, ${seconds.toFixed(2)} s (${rate} states/s), ${report.exhausted ? 'exhausted' : 'NOT exhausted (--max-states)'}`,
    ];
    for (const p of PROPERTY_NAMES) {
      const f = byProperty.get(p);
      lines.push(`  ${p.padEnd(24)} ${f === undefined ? (report.exhausted ? 'holds' : 'not violated so far') : `VIOLATED (${f.schedule.length} steps, at record ${f.seq})`}`);
    }
    for (const f of report.findings) lines.push(`${f.property}: ${f.message}`, `  schedule: ${f.schedule.join(' ') || '(the log itself)'}`);
    if (o.out !== undefined && first !== undefined) lines.push(`counterexample (${first.property}) written to ${o.out}: iommu-model replay ${o.out} --scheme ${o.scheme}`);
    io.stdout(`${lines.join('\n')}\n`);
  }
  return report.findings.length > 0 ? EXIT_FOUND : EXIT_CLEAN;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  let code = EXIT_CLEAN;
  const program = new Command('iommu-model')
    .description('An event-sourced, explorable model of Linux VFIO/IOMMU invalidation')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
  program
    .command('replay <log>')
    .description('fold a log, check every property after every record, report divergences and violations')
    .option('--json', 'one JSON document on stdout')
    .option('--scheme <name|file>', "use this scheme instead of the header's")
    .option('--at <seq>', 'print the world after record <seq>')
    .option('--why <seq[.id]>', 'the chain of causes from a derived record back to its stimulus')
    .option('--record <file>', 'write a recording: every stimulus with its outcome, and its derived records')
    .action(async (log: string, o: ReplayOptions) => {
      code = await runReplay(io, log, o);
    });
  program
    .command('check')
    .description('explore every schedule of a scenario under a scheme, check every property')
    .requiredOption('--scenario <name|file>', 'a built-in scenario (iommu-model scenarios) or a log with tasks')
    .option('--scheme <name|file>', 'a built-in scheme or a scheme module', 'upstream')
    .option('--max-states <n>', 'stop after generating this many states', '200000')
    .option('--out <file>', 'write the shortest counterexample (of the first violated property) as a log')
    .option('--json', 'one JSON document on stdout')
    .action(async (o: CheckOptions) => {
      code = await runCheck(io, o);
    });
  program
    .command('scenarios')
    .description('list the built-in scenarios')
    .action(async () => {
      for (const name of builtinScenarios()) {
        let description = '';
        await streamLog(scenarioFile(name), (h) => {
          description = h.description ?? '';
        }, () => undefined);
        io.stdout(`${name.padEnd(24)} ${description}\n`);
      }
    });
  program
    .command('demo')
    .description('every built-in scenario under every built-in scheme: the verdict table, counterexamples in ./iommu-model-out/')
    .option('--json', 'one JSON document on stdout: every verdict and the counterexamples written')
    .option('--markdown', 'print the verdict tables as Markdown (for docs/schemes.md)')
    .action(async (o: DemoOptions) => {
      code = await runDemo(io, o);
    });
  program
    .command('schemes')
    .description('list the built-in schemes')
    .action(() => {
      const width = Math.max(...builtinSchemes().map((s) => s.name.length));
      for (const s of builtinSchemes()) {
        io.stdout(`${s.name.padEnd(width)}  ${s.summary}\n`);
        if (s.expectNotRun.length > 0) io.stdout(`${''.padEnd(width)}  (cannot run the set-up of: ${s.expectNotRun.join(', ')})\n`);
      }
    });
  program
    .command('properties')
    .description('list the properties and what each means')
    .action(() => {
      for (const [p, g] of Object.entries(GLOSS)) io.stdout(`${p.padEnd(24)} ${g}\n`);
    });
  try {
    await program.parseAsync(argv.filter((a) => a !== '--debug'), { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_CLEAN : EXIT_INPUT;
    if (e instanceof InputError) {
      io.stderr(`iommu-model: ${e.message}\n`);
      if (debug) io.stderr(`${e.stack ?? ''}\n`);
      return EXIT_INPUT;
    }
    if (e instanceof ModelError) {
      io.stderr(`iommu-model: internal model error (please report with the log): ${e.message}\n`);
      if (debug) io.stderr(`${e.stack ?? ''}\n`);
      return EXIT_BUG;
    }
    io.stderr(`iommu-model: ${(e as Error).message}\n`);
    if (debug) io.stderr(`${(e as Error).stack ?? ''}\n`);
    return EXIT_BUG;
  }
}
