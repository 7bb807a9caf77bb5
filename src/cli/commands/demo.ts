/**
 * `demo`: the golden logs, then every built-in scenario under every built-in scheme,
 * explored (src/run/verdicts.ts). It opens with the summary (upstream's hazards, each scheme's
 * score), then the verdict tables (scheme x property: holds, violated with the length of the
 * shortest counterexample, or not applicable); each counterexample is written to
 * ./iommu-model-out/ (or --out-dir) with the `replay` command that shows it, and each verdict is
 * compared with what its scheme documents.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { PROPERTY_NAMES } from '../../vocab/properties.js';
import { counterexampleLines } from '../../run/counterexample.js';
import { scenarioOf } from '../../run/explore.js';
import { Replay } from '../../run/replay.js';
import { counterexampleName, exploreEveryPair, goldenResult, summarizeDemo, type GoldenResult, type PairProgress, type ScenarioInput, type ScenarioRun, type Verdict } from '../../run/verdicts.js';
import { builtinSchemes } from '../../schemes/catalogue.js';
import type { Scheme } from '../../schemes/scheme.js';
import type { Header } from '../../vocab/records.js';
import { EXIT_CLEAN, EXIT_FOUND, packageRoot, readLog, streamLog, type Io } from '../io.js';
import { attempt, writeAtomic } from '../output.js';
import { demoJson } from '../render/json.js';
import { renderDemoMarkdown } from '../render/markdown.js';
import { renderDemoOutcome, renderDemoText, renderPairProgress } from '../render/text.js';
import { builtinScenarios, scenarioFile } from '../resolve.js';

/** The folder (relative to the working directory) the counterexamples go to unless --out-dir names one. */
export const OUT_DIR = 'iommu-model-out';

export interface DemoOptions {
  json?: boolean;
  markdown?: boolean;
  outDir?: string;
}

/** What demo runs; tests substitute their own schemes (and a bound on the states explored). */
export interface DemoCatalogue {
  readonly schemes: readonly Scheme[];
  readonly scenarios: readonly string[];
  readonly maxStates?: number;
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
    results.push(goldenResult(name, header!, replay!.finish()));
  }
  return { dir, results };
}

/** A path as the demo shows it: relative to the working directory when inside it. */
function shownDir(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel === '' ? '.' : rel.startsWith('..') ? dir : rel;
}

async function readScenario(name: string): Promise<ScenarioInput> {
  try {
    const file = scenarioFile(name);
    const { header, items } = await readLog(file);
    return { name, scenario: scenarioOf(header, items, file), items };
  } catch (e) {
    return { name, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Writes the counterexample of every violated verdict to the out folder and names it in the verdict, as shown. */
function writeCounterexamples(runs: readonly ScenarioRun[], schemes: readonly Scheme[], outDir: string): ScenarioRun[] {
  const schemeNamed = new Map(schemes.map((s) => [s.name, s]));
  let madeDir = false;
  return runs.map((r): ScenarioRun => ({
    ...r,
    rows: r.rows.map((row) => ({
      ...row,
      verdicts: row.verdicts.map((v): Verdict => {
        if (v.got !== 'violated') return v;
        if (!madeDir) {
          attempt(shownDir(outDir), () => mkdirSync(outDir, { recursive: true }));
          madeDir = true;
        }
        const file = counterexampleName(r.name, row.scheme, v.property);
        const finding = row.report!.findings.find((f) => f.property === v.property)!;
        writeAtomic(join(outDir, file), `${counterexampleLines(r.scenario!, schemeNamed.get(row.scheme)!, finding).join('\n')}\n`);
        return { ...v, counterexample: shownDir(join(outDir, file)) };
      }),
    })),
  }));
}

/**
 * A counterexample an earlier run wrote for a verdict that now holds would mislead: removes the
 * files of this run's (scenario, scheme, property) triples that it did not write again.
 */
function removeStaleCounterexamples(runs: readonly ScenarioRun[], outDir: string): void {
  const written = new Set(runs.flatMap((r) => r.rows.flatMap((row) => row.verdicts.flatMap((v) => (v.counterexample === undefined ? [] : [basename(v.counterexample)])))));
  const stale = runs.flatMap((r) => r.rows.flatMap((row) => PROPERTY_NAMES.map((p) => counterexampleName(r.name, row.scheme, p)))).filter((f) => !written.has(f) && existsSync(join(outDir, f)));
  for (const f of stale) attempt(shownDir(join(outDir, f)), () => rmSync(join(outDir, f)));
}

export async function runDemo(io: Io, o: DemoOptions = {}, catalogue?: DemoCatalogue): Promise<number> {
  const t0 = process.hrtime.bigint();
  const schemes = [...(catalogue?.schemes ?? builtinSchemes())].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const scenarios = [...(catalogue?.scenarios ?? builtinScenarios())].sort();

  // 1. The golden logs.
  const golden = await goldenLogs();

  // 2. Every scenario under every scheme.
  const inputs: ScenarioInput[] = [];
  for (const name of scenarios) inputs.push(await readScenario(name));
  const progress = (p: PairProgress): void => io.stderr(`\r\x1b[K${renderPairProgress(p)}`);
  const explored = exploreEveryPair(inputs, schemes, io.isTTY ? progress : undefined, catalogue?.maxStates);
  if (io.isTTY) io.stderr('\r\x1b[K');
  const outDir = resolve(o.outDir ?? OUT_DIR);
  const runs = writeCounterexamples(explored, schemes, outDir);
  removeStaleCounterexamples(runs, outDir);
  const summary = summarizeDemo(golden.results, runs, schemes, scenarios, catalogue?.maxStates);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  if (o.json === true) io.stdout(demoJson(summary, seconds));
  else if (o.markdown === true) {
    io.stdout(renderDemoMarkdown(summary));
    io.stderr(renderDemoOutcome(summary, seconds));
  } else io.stdout(renderDemoText(summary, seconds, shownDir(golden.dir), io.term));
  return summary.ok ? EXIT_CLEAN : EXIT_FOUND;
}
