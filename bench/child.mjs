// One measurement in a fresh process (spawned by bench/measure.mjs): the job is argv[2] as JSON,
// the result one JSON line on stdout. Memory is this process's peak RSS less its RSS once the
// modules are loaded (the baseline), so a figure per state counts everything the run kept:
// heap, typed arrays, the frontier, worker threads.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const job = JSON.parse(process.argv[2]);
const cliMain = new URL('../dist/src/cli/main.js', import.meta.url);

/** Runs the CLI in this process, its stdout kept (the timing leaves module loading out). */
async function cli(args, warm = false) {
  const { main } = await import(cliMain);
  let out = '';
  let err = '';
  const io = { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: false };
  // a small search first, so that the baseline holds the code a search compiles, not only its modules
  if (warm) await main(['check', '--scenario', 'oom-reap', '--json'], { ...io, stdout: () => {} });
  const base = baseline();
  const t0 = process.hrtime.bigint();
  const code = await main(args, io);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let json = null;
  try { json = JSON.parse(out); } catch { /* not JSON: reported as is */ }
  return { code, ms, json, stderr: err.slice(0, 400), ...memory(base) };
}

function baseline() {
  globalThis.gc?.();
  return process.memoryUsage().rss;
}

function memory(base) {
  const peak = process.resourceUsage().maxRSS * 1024;
  return { peakRss: peak, baseRss: base, memBytes: Math.max(0, peak - base) };
}

/** The floor: read every line, JSON.parse it and update one Map entry per record (the live mappings by IOVA). */
async function floor(file) {
  const base = baseline();
  const t0 = process.hrtime.bigint();
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const live = new Map();
  let records = 0;
  for await (const line of rl) {
    if (line === '') continue;
    const r = JSON.parse(line);
    if (r.format !== undefined) continue;
    records += 1;
    const key = r.arg?.iova ?? r.addr ?? r.op;
    if (r.cmd === 'VFIO_IOMMU_UNMAP_DMA' || r.op === 'munmap') live.delete(key);
    else live.set(key, r);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { code: 0, ms, records, ...memory(base) };
}

/** The stepper against xstate's public transition(), the same events (the old bench's micro-benchmark). */
async function stepper() {
  const { transition, initialTransition } = await import('xstate');
  const { step, initialState } = await import(new URL('../dist/src/core/stepper.js', import.meta.url));
  const { MACHINES } = await import(new URL('../dist/machines/index.js', import.meta.url));
  const STEPS = 20_000;
  const m = MACHINES.vfio_dma;
  const evs = ['PINNED', 'INVALIDATE_VADDR', 'UPDATE_VADDR', 'REMOVE'];
  let t0 = process.hrtime.bigint();
  let v = initialState('vfio_dma');
  for (let k = 0; k < STEPS; k += 1) { const r = step('vfio_dma', v, { type: evs[k % 4] }); v = r.value === 'removed' ? 'pinning' : r.value; }
  const stepMs = Number(process.hrtime.bigint() - t0) / 1e6;
  t0 = process.hrtime.bigint();
  let [snap] = initialTransition(m);
  const [initial] = initialTransition(m);
  for (let k = 0; k < STEPS; k += 1) { const [next] = transition(m, snap, { type: evs[k % 4] }); snap = next.value === 'removed' ? initial : next; }
  const xstateMs = Number(process.hrtime.bigint() - t0) / 1e6;
  return { code: 0, ms: stepMs, steps: STEPS, xstateMs };
}

/**
 * Check runs in this one process, for scenarios too small for a process each: each group (the
 * variants of one scenario) round after round (A B A B ...), at least `min` rounds, then until
 * `budgetMs` is spent or `max` rounds; each run's time and report. The first round pays for the JIT: a small search before them and the median hide most of it.
 */
async function cliRounds({ groups, min = 3, max = 5, budgetMs = 3000 }) {
  await cli(['check', '--scenario', 'oom-reap', '--json']);
  const out = [];
  for (const argsList of groups) {
    const runs = argsList.map(() => []);
    const t0 = Date.now();
    for (let round = 0; round < max && (round < min || Date.now() - t0 < budgetMs); round += 1) {
      for (let i = 0; i < argsList.length; i += 1) {
        const { code, ms, json, stderr } = await cli(argsList[i]);
        runs[i].push({ code, ms, json, stderr });
      }
    }
    out.push(runs);
  }
  return { code: 0, groups: out };
}

/**
 * The timeline (replay --diff/--grep/--follow, inspect: src/run/timeline.ts, where the build has
 * it) beside a plain replay of the same log in this process: the plain replay, then the replay
 * building the timeline (immer patches per record, a checkpoint every so many), then a jump to
 * every 997th position. Absent from the build: `{ code: 0, absent: true }`.
 */
async function timeline(file) {
  const dist = (p) => new URL(`../dist/src/${p}`, import.meta.url);
  const { existsSync } = await import('node:fs');
  if (!existsSync(dist('run/timeline.js'))) return { code: 0, absent: true };
  const { TimelineBuilder } = await import(dist('run/timeline.js'));
  const { Replay } = await import(dist('run/replay.js'));
  const { streamLog } = await import(dist('cli/io.js'));
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  let t0 = process.hrtime.bigint();
  let plain;
  await streamLog(file, (h) => { plain = new Replay(h, file); }, (it) => plain.push(it));
  const report = plain.finish();
  const replayMs = ms(t0);
  plain = null;
  globalThis.gc?.();
  const heapBase = process.memoryUsage().heapUsed;
  t0 = process.hrtime.bigint();
  let tl;
  const builder = new TimelineBuilder();
  await streamLog(file, (h) => { tl = new Replay(h, file, (st) => builder.push(st, tl.world)); }, (it) => tl.push(it));
  tl.finish();
  const built = builder.finish();
  const timelineMs = ms(t0);
  globalThis.gc?.();
  const heap = process.memoryUsage().heapUsed - heapBase;
  let jumps = 0;
  let worstJump = 0;
  t0 = process.hrtime.bigint();
  for (let p = 0; p <= built.length; p += 997) {
    const t1 = process.hrtime.bigint();
    built.at(p);
    worstJump = Math.max(worstJump, ms(t1));
    jumps += 1;
  }
  return { code: 0, records: report.records, replayMs, timelineMs, ms: timelineMs, heap, jumpMs: ms(t0) / jumps, worstJump, jumps, checkpoints: built.checkpointCount };
}

let result;
try {
  if (job.kind === 'cli') result = await cli(job.args, job.warm === true);
  else if (job.kind === 'cli-rounds') result = await cliRounds(job);
  else if (job.kind === 'floor') result = await floor(job.file);
  else if (job.kind === 'stepper') result = await stepper();
  else if (job.kind === 'timeline') result = await timeline(job.file);
  else throw new Error(`unknown job kind ${job.kind}`);
} catch (e) {
  result = { code: -1, error: String(e instanceof Error ? e.message : e).slice(0, 400) };
}
process.stdout.write(`${JSON.stringify(result)}\n`);
