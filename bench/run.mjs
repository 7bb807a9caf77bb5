// `npm run bench`: everything issue 11 measures, side by side in one run, through the built CLI
// (dist/: `npm ci` builds it), so it measures whatever this tree has: replay against its floor
// by log size and by live mappings, the explorer on every built-in scenario and on scaled ones
// with each variant this build's `check --help` offers (reduction, symmetry, workers), and the
// time to the first deadlock against SPIN's pan. Writes docs/performance.md and docs/perf-*.svg;
// prints where the raw results went. BENCH_QUICK=1: about 30 s; BENCH_BIG=1: every size.
// Speed goals live here and in that document, never in tests.
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODE } from './config.mjs';
import { deadlockSection } from './deadlock.mjs';
import { performanceDoc, plots } from './doc.mjs';
import { builtinSection, exploreVariants, scaledSection, workersSection } from './explore.mjs';
import { judgeGoals } from './goals.mjs';
import { runProcess } from './measure.mjs';
import { replaySection } from './replay.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (s) => process.stderr.write(`${s}\n`);
const t0 = Date.now();

if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) {
  say('bench: dist/ is not built: run `npm run build` (or `npm ci`) first');
  process.exit(2);
}

/** Which of the issue's flags this build's check accepts: `check --help` lists them. */
async function checkFlags() {
  const help = (await runProcess(process.execPath, [join(root, 'bin', 'iommu-model.js'), 'check', '--help'])).stdout;
  return { reduction: /(^|\s)--reduction\b/m.test(help), symmetry: /(^|\s)--symmetry\b/m.test(help), workers: help.includes('--workers') };
}

function writeAtomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** Every measurement, in order; the raw results are saved before any document is written. */
async function measure() {
  const loadBefore = loadavg()[0];
  const flags = await checkFlags();
  const commit = await runProcess('git', ['-C', root, 'describe', '--always', '--dirty'], {});
  const dir = mkdtempSync(join(tmpdir(), 'iommu-model-bench-'));
  say(`bench (${MODE}): ${dir}; check flags: ${Object.entries(flags).map(([k, v]) => `${k} ${v ? 'yes' : 'not available in this build'}`).join(', ')}`);
  const variants = exploreVariants(flags);
  const sectionSeconds = {};
  const timed = async (name, f) => {
    const t = Date.now();
    const r = await f();
    sectionSeconds[name] = Math.round((Date.now() - t) / 1000);
    return r;
  };
  const replay = await timed('replay', () => replaySection(dir));
  const builtins = await timed('builtins', () => builtinSection(root, variants));
  const scaled = await timed('scaled', () => scaledSection(dir, root, variants));
  const workers = flags.workers ? await timed('workers', () => workersSection(dir, scaled)) : { skipped: 'not available in this build' };
  const deadlock = await timed('deadlock', () => deadlockSection(root));
  const R = {
    mode: MODE,
    command: MODE === 'quick' ? 'BENCH_QUICK=1 npm run bench' : MODE === 'big' ? 'BENCH_BIG=1 npm run bench' : 'npm run bench',
    machine: `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.versions.node,
    date: new Date().toISOString().slice(0, 10),
    commit: commit.code === 0 ? commit.stdout.trim() : null,
    seconds: Math.round((Date.now() - t0) / 1000),
    sectionSeconds,
    // the 1-minute load average when the run began and ended: how busy the machine was
    load: [loadBefore, loadavg()[0]].map((x) => Number(x.toFixed(1))),
    flags,
    replay,
    builtins,
    scaled,
    workers,
    deadlock,
  };
  const results = join(dir, 'results.json');
  writeFileSync(results, `${JSON.stringify(R, null, 1)}\n`);
  return { R, results };
}

// BENCH_FROM=results.json writes the document again from a saved run, measuring nothing.
const { R, results } = process.env.BENCH_FROM === undefined
  ? await measure()
  : { R: JSON.parse(readFileSync(process.env.BENCH_FROM, 'utf8')), results: process.env.BENCH_FROM };
const goals = judgeGoals(R);
const docs = process.env.BENCH_DOCS ?? join(root, 'docs');
mkdirSync(docs, { recursive: true });
for (const [name, svg] of Object.entries(plots(R))) writeAtomic(join(docs, name), svg);
writeAtomic(join(docs, 'performance.md'), performanceDoc(R, goals, join(docs, 'performance.md')));

say('');
for (const g of goals) say(`${g.status.padEnd(12)} ${g.title}\n             ${g.figure}`);
say(`\nwrote ${join(docs, 'performance.md')} and its plots; raw results in ${results} (BENCH_FROM=<it> writes the document again); ${R.seconds} s`);
