// The issue's goals (issue 11, "Goals"), each judged from the bench's numbers: met, missed, or
// not measured (and why). The prose "why" of a missed goal is the lead's (docs/performance.md
// keeps it between its markers).
import { ANCHORS } from './config.mjs';

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

function defaultOf(row) {
  return row?.variants?.find((v) => v.variant === 'default');
}

function notRun(row, what, mode) {
  if (row === undefined) return `${what} was not in this run's sizes${mode === 'quick' ? ' (BENCH_QUICK=1 leaves it out)' : ''}`;
  const why = row.notRun?.default ?? defaultOf(row)?.error ?? (defaultOf(row) && !defaultOf(row).exhausted ? `cut off (${defaultOf(row).cutOff})` : 'not run');
  return `${what}: ${why}`;
}

export function judgeGoals(R) {
  const goals = [];
  const floor200k = R.replay.bySize.find((r) => r.size === 200_000 && r.floorMs !== undefined);
  const scaled = (key) => R.scaled.find((r) => r.key === key);

  // 1. the two scaled scenarios against the floor's time for 200k records
  {
    const parts = [];
    let status = 'met';
    for (const [key, what] of [['map4x5', '4 map vs 5 munmap'], ['prq4', 'exit with 4 page requests']]) {
      const d = defaultOf(scaled(key));
      if (d === undefined || d.error !== undefined || !d.exhausted) { parts.push(notRun(scaled(key), what, R.mode)); status = status === 'missed' ? 'missed' : 'not measured'; continue; }
      if (floor200k === undefined) { parts.push(`${what}: ${s(d.ms.median)}, but the floor at 200k records was not measured`); status = 'not measured'; continue; }
      const x = d.ms.median / floor200k.floorMs.median;
      const same = scaled(key).agrees !== false;
      parts.push(`${what}: ${s(d.ms.median)} = ${x.toFixed(1)}x the floor's ${s(floor200k.floorMs.median)}${scaled(key).variants.length > 1 ? `, verdicts ${same ? 'the same' : 'DIFFERENT'} across variants` : ''}`);
      if (x >= 10 || !same) status = 'missed';
    }
    goals.push({ id: 'explorer-vs-floor', title: '4 map vs 5 munmap and exit with 4 page requests exhausted in under 10x the floor\'s time for a 200k-record log, with the same verdicts', status, figure: parts.join('; ') });
  }
  // 2. five by five
  {
    const row = scaled('map5x5');
    const d = defaultOf(row);
    const ok = d !== undefined && d.error === undefined && d.exhausted;
    goals.push({ id: 'five-by-five', title: '5 map tasks vs 5 munmap tasks exhausted in under 60 s', status: ok ? (d.ms.median < 60_000 ? 'met' : 'missed') : 'not measured', figure: ok ? `${s(d.ms.median)} (${d.distinct.toLocaleString('en')} distinct states)` : notRun(row, '5 map vs 5 munmap', R.mode) });
  }
  // 3. replay within 3x of the floor
  goals.push(floor200k === undefined
    ? { id: 'replay-3x', title: 'Replay within 3x of the floor, every property checked after every record', status: 'not measured', figure: 'the 200k-record log was not in this run (BENCH_QUICK)' }
    : { id: 'replay-3x', title: 'Replay within 3x of the floor, every property checked after every record', status: floor200k.clean && floor200k.ratio.median < 3 ? 'met' : 'missed', figure: `200k records: ${floor200k.ratio.median.toFixed(2)}x the floor (pairs ${floor200k.ratio.min.toFixed(2)}-${floor200k.ratio.max.toFixed(2)}), ${Math.round(floor200k.replayRate.median).toLocaleString('en')} records/s against ${Math.round(floor200k.floorRate.median).toLocaleString('en')}${floor200k.clean ? '' : '; the log did NOT replay clean'}` });
  // 4. first deadlock
  {
    const d = R.deadlock;
    const pan = d.pan === undefined ? (ANCHORS.panFirstDeadlockS[0] + ANCHORS.panFirstDeadlockS[1]) * 500 : d.pan.median;
    const x = d.check.median / pan;
    goals.push({ id: 'first-deadlock', title: 'Time to the first deadlock on map-vs-munmap within 2x of SPIN\'s pan, end to end', status: d.checkFound ? (x <= 2 ? 'met' : 'missed') : 'missed', figure: `check ${s(d.check.median)} against pan ${d.pan === undefined ? `${s(pan)} (${d.panWhy}: the issue's anchor, 0.09-0.10 s)` : s(pan)}: ${x.toFixed(1)}x${d.checkFound ? '' : '; check did NOT report the deadlock'}` });
  }
  // 5. workers
  {
    const w = R.workers;
    const base = { id: 'workers', title: '`check --workers 2` at least 1.6x faster than `--workers 1`' };
    if (!R.flags.workers) goals.push({ ...base, status: 'not measured', figure: '`check --workers` is not available in this build' });
    else if (w.speedup === undefined) goals.push({ ...base, status: 'not measured', figure: w.skipped ?? w.error });
    else goals.push({ ...base, status: w.speedup.median >= 1.6 && w.agrees ? 'met' : 'missed', figure: `${w.label}: ${w.speedup.median.toFixed(2)}x (pairs ${w.speedup.min.toFixed(2)}-${w.speedup.max.toFixed(2)}), ${s(w.one.ms.median)} against ${s(w.two.ms.median)}; one process without --workers: ${s(w.single)}${w.agrees ? '' : '; the reports DIFFER'}` });
  }
  // 6. memory per distinct state: the largest exhausted run of each series (default variant)
  {
    const largest = ['map vs munmap', 'exit + page requests'].map((ser) => R.scaled.filter((r) => r.series === ser && defaultOf(r)?.exhausted && defaultOf(r).bytesPerState !== null).at(-1)).filter((r) => r !== undefined);
    const parts = largest.map((r) => `${r.label}: ${Math.round(defaultOf(r).bytesPerState)} B/state (${defaultOf(r).distinct.toLocaleString('en')} distinct, ${(defaultOf(r).mem.median / 2 ** 20).toFixed(0)} MiB above the baseline)`);
    const small = largest.every((r) => defaultOf(r).distinct < 10_000);
    goals.push({ id: 'memory', title: 'Memory under 200 B per distinct state, counting the frontier', status: largest.length === 0 ? 'not measured' : largest.every((r) => defaultOf(r).bytesPerState < 200) ? 'met' : 'missed', figure: `${parts.join('; ') || 'no scaled run'}${small && largest.length > 0 ? ' (under 10k states: the process\'s fixed costs weigh on the figure)' : ''}` });
  }
  return goals;
}
