// Replay against its floor: the same generated log read by a bare loop (JSON.parse and one Map
// update per record: bench/child.mjs floor) and replayed by the built CLI (`replay --json`: every
// property checked after every record), each in a fresh process, pair by pair.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, MODE, until } from './config.mjs';
import { fullContainerLog, replayLog } from './logs.mjs';
import { child, interleave, pairRatios, stats } from './measure.mjs';

const say = (s) => process.stderr.write(`${s}\n`);

/** One log: floor and replay interleaved; rates, the ratio pair by pair, peak memory. */
async function measureLog(dir, name, text, pairs) {
  const file = join(dir, `${name}.jsonl`);
  writeFileSync(file, text);
  const [floor, replay] = await interleave([
    () => child({ kind: 'floor', file }),
    () => child({ kind: 'cli', args: ['replay', file, '--json'] }),
  ], pairs);
  const bad = [...floor, ...replay].find((r) => r.code < 0);
  if (bad !== undefined) return { name, error: bad.error };
  const last = replay[replay.length - 1];
  const clean = replay.every((r) => r.code === 0);
  const records = last.json?.records ?? floor[0].records;
  const rate = (runs) => stats(runs.map((r) => records / (r.ms / 1000)));
  return {
    name,
    records,
    clean,
    ...(clean ? {} : { problem: `replay exit ${last.code}: ${JSON.stringify(last.json?.divergences?.[0] ?? last.json?.violations?.[0] ?? last.stderr).slice(0, 200)}` }),
    floorMs: stats(floor.map((r) => r.ms)),
    replayMs: stats(replay.map((r) => r.ms)),
    floorRate: rate(floor),
    replayRate: rate(replay),
    ratio: pairRatios(replay, floor),
    floorPeak: stats(floor.map((r) => r.peakRss)),
    replayPeak: stats(replay.map((r) => r.peakRss)),
    replayMem: stats(replay.map((r) => r.memBytes)),
  };
}

/**
 * The next replay's time, from the last two: the last's time per record, times the growth of
 * the time per record between them (more live mappings cost more per record), times the next
 * log's records.
 */
function predictReplay(done, nextRecords) {
  if (done.length === 0) return 0;
  const per = (r) => r.replayMs.median / r.records;
  const last = done[done.length - 1];
  const growth = done.length >= 2 ? Math.max(1, per(last) / per(done[done.length - 2])) : 1;
  return per(last) * growth * nextRecords;
}

/** A growing series of logs, stopped where the next is predicted past the cap; one pair only for a long one. */
async function series(dir, sizes, make, label, share) {
  const rows = [];
  const done = [];
  for (const size of sizes) {
    const meta = make(size, true);
    const predicted = predictReplay(done, meta.size);
    // a pair is a floor and a replay: the replay's time is most of it
    const cap = Math.min(CONFIG.replayCapMs, until(share));
    if (predicted > cap) {
      rows.push({ ...meta, skipped: cap < CONFIG.replayCapMs ? `predicted ${(predicted / 1000).toFixed(0)} s, past the bench's time for replay on this machine (BENCH_BIG=1 runs it)` : `predicted ${(predicted / 1000).toFixed(0)} s > the ${(CONFIG.replayCapMs / 1000).toFixed(0)} s cap (BENCH_BIG=1 runs it)` });
      say(`  ${label(size)}: skipped (predicted ${(predicted / 1000).toFixed(0)} s)`);
      continue;
    }
    const { name, text, ...rest } = make(size, false);
    const pairs = predicted > 20_000 || predicted * 3 > until(share) ? { min: 1, max: 1 } : CONFIG.replayPairs;
    const row = { ...rest, ...(await measureLog(dir, name, text, pairs)) };
    rows.push(row);
    if (row.error !== undefined) { say(`  ${label(size)}: ${row.error}`); break; }
    done.push(row);
    say(`  ${label(size)}: replay ${Math.round(row.replayRate.median).toLocaleString('en')}/s, floor ${Math.round(row.floorRate.median).toLocaleString('en')}/s, ${row.ratio.median.toFixed(2)}x${row.clean ? '' : ` NOT CLEAN: ${row.problem}`}`);
  }
  return rows;
}

export async function replaySection(dir) {
  say('replay against the floor, by log size');
  const bySize = await series(dir, CONFIG.records, (n, onlyMeta) => ({
    size: n, live: CONFIG.recordsLive, ...(onlyMeta ? {} : { name: `records-${n}`, text: replayLog(n, CONFIG.recordsLive) }),
  }), (n) => `${n.toLocaleString('en')} records`, 0.25);
  say('replay against the floor, by live mappings');
  const byLive = await series(dir, CONFIG.live, (l, onlyMeta) => {
    const n = Math.max(CONFIG.liveRecords, 4 * l);
    return { size: n, live: l, ...(onlyMeta ? {} : { name: `live-${l}`, text: replayLog(n, l) }) };
  }, (l) => `${l.toLocaleString('en')} live mappings`, 0.36);
  let full = null;
  if (CONFIG.fullContainer && until(0.4) > 5_000) {
    full = await measureLog(dir, 'full-container', fullContainerLog(), { min: 1, max: 3, budgetMs: Math.min(10_000, until(0.4)) });
    if (full.replayMs !== undefined) say(`replay: a full container (65535 maps, ENOSPC, UNMAP_DMA ALL) in ${(full.replayMs.median / 1000).toFixed(2)} s${full.clean ? '' : ' NOT CLEAN'}`);
  } else if (CONFIG.fullContainer) full = { skipped: 'the bench\'s time for replay on this machine was spent (BENCH_BIG=1 runs it)' };
  const stepper = await child({ kind: 'stepper' });
  // the timeline's build and jumps, on the largest log up to 200k records that was replayed
  const tlRow = bySize.filter((r) => r.replayMs !== undefined && r.size <= 200_000).at(-1);
  let timeline = null;
  if (tlRow !== undefined && (until(0.42) > 3 * tlRow.replayMs.median || MODE === 'quick')) {
    const t = await child({ kind: 'timeline', file: join(dir, `records-${tlRow.size}.jsonl`) });
    timeline = t.absent === true ? { absent: true } : t.code < 0 ? { error: t.error } : t;
    if (timeline.timelineMs !== undefined) say(`replay building the timeline: ${(timeline.timelineMs / timeline.replayMs).toFixed(2)}x the plain replay on ${tlRow.size.toLocaleString('en')} records; a jump ${timeline.jumpMs.toFixed(2)} ms mean`);
  } else if (tlRow !== undefined) timeline = { skipped: 'the bench\'s time for replay on this machine was spent' };
  return { bySize, byLive, full, stepper: stepper.code === 0 ? stepper : null, timeline };
}
