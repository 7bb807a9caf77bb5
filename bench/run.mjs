// `npm run bench`: replay throughput and memory on a generated 200k-record log, with the floors
// it is compared against measured side by side in the same run. Speed goals live here, never in
// tests. Run after `npm ci` (which builds dist/).
import { mkdtempSync, writeFileSync, createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { transition, initialTransition } from 'xstate';
import { streamLog } from '../dist/src/cli/io.js';
import { LogReader } from '../dist/src/log/reader.js';
import { Replay } from '../dist/src/run/replay.js';
import { TimelineBuilder } from '../dist/src/run/timeline.js';
import { step, initialState } from '../dist/src/core/stepper.js';
import { MACHINES } from '../dist/machines/index.js';
import { readdirSync, readFileSync } from 'node:fs';
import { explore, scenarioOf } from '../dist/src/run/explore.js';
import { parseLog } from '../dist/src/log/reader.js';
import { builtinSchemes } from '../dist/src/schemes/catalogue.js';
import { setupFailure } from '../dist/src/run/verdicts.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000);
const hex = (n) => `0x${n.toString(16)}`;

/** A QEMU-like log: set-up, then map/DMA/unmap cycles with up to 256 live mappings. */
function generate(n) {
  const lines = [
    { format: 'iommu-model/1', description: 'bench: map, DMA and unmap cycles' },
    { op: 'host.device', device: '0000:01:00.0', group: 1, bars: [{ index: 0, phys: '0xe0000000', size: '0x1000000' }] },
    { op: 'process.spawn', pid: 1, cap_ipc_lock: true },
    { op: 'open', pid: 1, path: '/dev/vfio/vfio', expect: { ret: 3 } },
    { op: 'open', pid: 1, path: '/dev/vfio/1', expect: { ret: 4 } },
    { op: 'ioctl', pid: 1, fd: 4, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: 3 } },
    { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
    { op: 'ioctl', pid: 1, fd: 4, cmd: 'VFIO_GROUP_GET_DEVICE_FD', arg: { name: '0000:01:00.0' } },
  ].map((l) => JSON.stringify(l));
  const live = [];
  let i = 0;
  while (lines.length < n) {
    const va = 0x7f0000000000 + (i % 4096) * 0x100000;
    const iova = 0x100000000 + (i % 4096) * 0x100000;
    if (live.length >= 256) {
      const old = live.shift();
      lines.push(JSON.stringify({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: hex(old.iova), size: '0x10000' }, expect: { ret: 0, out: { size: '0x10000' } } }));
      lines.push(JSON.stringify({ op: 'munmap', pid: 1, addr: hex(old.va), length: '0x10000' }));
    }
    lines.push(JSON.stringify({ op: 'mmap', pid: 1, addr: hex(va), length: '0x10000', expect: { ret: hex(va) } }));
    lines.push(JSON.stringify({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(va), iova: hex(iova), size: '0x10000' }, expect: { ret: 0 } }));
    lines.push(JSON.stringify({ op: 'device.dma', device: '0000:01:00.0', iova: hex(iova + 0x1000), length: '0x40', write: true, expect: { dma: 'ok' } }));
    live.push({ va, iova });
    i += 1;
  }
  return `${lines.slice(0, n).join('\n')}\n`;
}

function peakSampler() {
  let peak = 0;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
  return { stop: () => { clearInterval(t); return Math.max(peak, process.memoryUsage().rss); } };
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const dir = mkdtempSync(join(tmpdir(), 'iommu-model-bench-'));
const file = join(dir, 'bench.jsonl');
writeFileSync(file, generate(RECORDS));

// 1. floor: read and JSON.parse every line
let t0 = process.hrtime.bigint();
const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
let parsed = 0;
for await (const line of rl) if (line) { JSON.parse(line); parsed += 1; }
const parseMs = ms(t0);

// 2. the reader: parse and validate
t0 = process.hrtime.bigint();
const reader = new LogReader(file);
const rl2 = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
for await (const line of rl2) reader.push(line);
const readMs = ms(t0);

// 3. full replay: validate, apply, compare expectations, check properties after every record
globalThis.gc?.();
const base = process.memoryUsage().rss;
const sampler = peakSampler();
t0 = process.hrtime.bigint();
let replay;
await streamLog(file, (h) => { replay = new Replay(h, file); }, (it) => replay.push(it));
const report = replay.finish();
const replayMs = ms(t0);
const peak = sampler.stop();
if (report.divergences.length > 0 || report.violations.length > 0) {
  console.error('bench log did not replay clean', report.divergences[0], report.violations[0]);
  process.exit(1);
}

// 3b. the same replay building the timeline (replay --diff/--grep/--follow, inspect): immer
// patches per record and a checkpoint every 1024 records; then a jump to every 1000th record
globalThis.gc?.();
const tlBase = process.memoryUsage().heapUsed;
t0 = process.hrtime.bigint();
let tlReplay;
const builder = new TimelineBuilder();
await streamLog(file, (h) => { tlReplay = new Replay(h, file, (st) => builder.push(st, tlReplay.world)); }, (it) => tlReplay.push(it));
tlReplay.finish();
const timeline = builder.finish();
const timelineMs = ms(t0);
globalThis.gc?.();
const tlHeap = process.memoryUsage().heapUsed - tlBase;
t0 = process.hrtime.bigint();
let jumps = 0;
let worstJump = 0;
for (let p = 0; p <= timeline.length; p += 997) {
  const t1 = process.hrtime.bigint();
  timeline.at(p);
  worstJump = Math.max(worstJump, ms(t1));
  jumps += 1;
}
const jumpMs = ms(t0) / jumps;

// 4. the stepper against xstate's public transition(), same events
const STEPS = 200_000;
const m = MACHINES.vfio_dma;
const evs = ['PINNED', 'INVALIDATE_VADDR', 'UPDATE_VADDR', 'REMOVE'];
t0 = process.hrtime.bigint();
let v = initialState('vfio_dma');
for (let k = 0; k < STEPS; k += 1) { const r = step('vfio_dma', v, { type: evs[k % 4] }); v = r.value === 'removed' ? 'pinning' : r.value; }
const stepMs = ms(t0);
t0 = process.hrtime.bigint();
let [snap] = initialTransition(m);
const [initial] = initialTransition(m);
for (let k = 0; k < STEPS; k += 1) { const [next] = transition(m, snap, { type: evs[k % 4] }); snap = next.value === 'removed' ? initial : next; }
const xstateMs = ms(t0);

// 5. a full container: dma_entry_limit (65535) one-page maps, then UNMAP_DMA ALL
const full = [
  { format: 'iommu-model/1' },
  { op: 'host.device', device: '0000:01:00.0', group: 1 },
  { op: 'process.spawn', pid: 1, cap_ipc_lock: true },
  { op: 'open', pid: 1, path: '/dev/vfio/vfio' },
  { op: 'open', pid: 1, path: '/dev/vfio/1' },
  { op: 'ioctl', pid: 1, fd: 4, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: 3 } },
  { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
  { op: 'mmap', pid: 1, addr: '0x7f0000000000', length: hex(65536 * 0x1000) },
];
for (let k = 0; k < 65535; k += 1) full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(0x7f0000000000 + k * 0x1000), iova: hex(k * 0x1000), size: '0x1000' } });
full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ'], vaddr: '0x7f0000000000', iova: '0x100000000', size: '0x1000' }, expect: { errno: 'ENOSPC' } });
full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: ['ALL'], iova: '0x0', size: '0x0' }, expect: { ret: 0, out: { size: hex(65535 * 0x1000) } } });
const fullFile = join(dir, 'full.jsonl');
writeFileSync(fullFile, `${full.map((l) => JSON.stringify(l)).join('\n')}\n`);
t0 = process.hrtime.bigint();
let fullReplay;
await streamLog(fullFile, (h) => { fullReplay = new Replay(h, fullFile); }, (it) => fullReplay.push(it));
const fullReport = fullReplay.finish();
const fullMs = ms(t0);
if (fullReport.divergences.length > 0 || fullReport.violations.length > 0) {
  console.error('full-container log did not replay clean', fullReport.divergences[0], fullReport.violations[0]);
  process.exit(1);
}

const rate = (n, t) => Math.round(n / (t / 1000));
console.log(`log: ${RECORDS} records (${file})`);
console.log(`JSON.parse only:       ${rate(parsed, parseMs).toLocaleString('en')} records/s`);
console.log(`reader (validate):     ${rate(RECORDS, readMs).toLocaleString('en')} records/s   (${(readMs / parseMs).toFixed(2)}x the JSON.parse floor)`);
console.log(`replay (full):         ${rate(report.records, replayMs).toLocaleString('en')} records/s   (${(replayMs / parseMs).toFixed(2)}x the JSON.parse floor), ${report.derived.toLocaleString('en')} derived records`);
console.log(`replay peak RSS:       ${(peak / 2 ** 20).toFixed(0)} MiB (${((peak - base) / 2 ** 20).toFixed(0)} MiB above the process before replay)`);
console.log(`timeline (replay+build): ${rate(report.records, timelineMs).toLocaleString('en')} records/s   (${(timelineMs / replayMs).toFixed(2)}x the plain replay), heap ${(tlHeap / 2 ** 20).toFixed(0)} MiB held (timeline and replay), ${timeline.checkpointCount} checkpoints`);
console.log(`timeline jump (at):    ${jumpMs.toFixed(2)} ms mean, ${worstJump.toFixed(2)} ms worst, over ${jumps} positions`);
console.log(`full container:        65535 maps + ENOSPC + UNMAP ALL in ${(fullMs / 1000).toFixed(2)} s (${rate(fullReport.records, fullMs).toLocaleString('en')} records/s)`);
console.log(`stepper vs transition: ${rate(STEPS, stepMs).toLocaleString('en')} vs ${rate(STEPS, xstateMs).toLocaleString('en')} steps/s (${(xstateMs / stepMs).toFixed(1)}x faster)`);

// 6. the explorer on every built-in scenario under every built-in scheme (what demo runs)
const root = new URL('..', import.meta.url).pathname;
const schemes = builtinSchemes();
console.log('\ncheck: scenario / scheme: states generated, distinct, depth, time, states/s, violated');
for (const f of readdirSync(join(root, 'src', 'scenarios')).filter((x) => x.endsWith('.jsonl')).sort()) {
  const file = join(root, 'src', 'scenarios', f);
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  const sc = scenarioOf(header, items, file);
  for (const scheme of schemes) {
    if (setupFailure(header, items, file, scheme) !== null) {
      console.log(`${f.replace('.jsonl', '').padEnd(22)} ${scheme.name.padEnd(26)} not run: the scheme refuses the set-up`);
      continue;
    }
    const t = process.hrtime.bigint();
    const r = explore(sc, scheme, { maxStates: 1_000_000 });
    const ms2 = Number(process.hrtime.bigint() - t) / 1e6;
    const v = r.findings.map((x) => x.property).sort().join(',') || '-';
    console.log(`${f.replace('.jsonl', '').padEnd(22)} ${scheme.name.padEnd(26)} ${String(r.statesGenerated).padStart(6)} ${String(r.distinctStates).padStart(6)} ${String(r.depth).padStart(3)} ${ms2.toFixed(0).padStart(6)} ms ${String(Math.round(r.statesGenerated / (ms2 / 1000))).padStart(7)}/s ${r.exhausted ? '' : '(cut) '}${v}`);
  }
}
