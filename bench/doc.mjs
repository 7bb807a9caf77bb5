// docs/performance.md and its plots (docs/perf-*.svg), written from one bench run. Text between
// <!-- why:GOAL --> and <!-- /why:GOAL --> in the old file is kept: the account of a goal is
// the lead's, the figures are the bench's.
import { existsSync, readFileSync } from 'node:fs';
import { plot } from './svg.mjs';

const WHY_PLACEHOLDER = '_Why (the lead\'s account; `npm run bench` keeps what is written between these markers)._';

/** The why blocks of an old performance.md, by goal id. */
export function keptWhy(oldText) {
  const out = new Map();
  for (const m of oldText.matchAll(/<!-- why:([\w-]+) -->\n?([\s\S]*?)\n?<!-- \/why:\1 -->/g)) out.set(m[1], m[2]);
  return out;
}

const rate = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${Math.round(x / 1e3)}k` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : `${Math.round(x)}`);
const secs = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`);
const spread = (st, f) => (st.n > 1 ? `${f(st.median)} (${f(st.min)}-${f(st.max)})` : f(st.median));
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const num = (n) => (n === undefined || n === null ? '-' : n.toLocaleString('en'));
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/** A replay table: by log size (records first) or by live mappings (live, then records). */
function replayTable(rows, byLive) {
  const head = [...(byLive ? ['live mappings'] : []), 'records', 'floor records/s', 'replay records/s', 'replay / floor', 'replay peak RSS', 'clean'];
  return table(head, rows.map((r) => {
    const lead = [...(byLive ? [num(r.live)] : []), num(r.records ?? r.size)];
    if (r.skipped !== undefined) return [...lead, '-', '-', `not run: ${r.skipped}`, '-', '-'];
    if (r.error !== undefined) return [...lead, '-', '-', `failed: ${r.error}`, '-', '-'];
    return [...lead, spread(r.floorRate, rate), spread(r.replayRate, rate), spread(r.ratio, (x) => `${x.toFixed(2)}x`), mib(r.replayPeak.median), r.clean ? 'yes' : `**no**: ${r.problem}`];
  }));
}

function exploreRow(p, lead) {
  if (p.error !== undefined) return [...lead, p.variant, `failed: ${p.error}`, '-', '-', '-', '-', '-', '-'];
  return [...lead, p.variant, num(p.distinct), num(p.generated), `${spread(p.ms, secs)}${p.exhausted ? '' : ' (cut off)'}`, rate(p.rate),
    p.bytesPerState === null || p.bytesPerState === undefined ? '-' : `${Math.round(p.bytesPerState)}`, p.violated.join(', ') || '-',
    Object.entries(p.extra ?? {}).map(([k, v]) => `${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : typeof v === 'number' ? num(v) : v}`).join('; ') || ''];
}

/** The plots: records/s against log size, records/s against live mappings, time to exhaust against task count. */
export function plots(R) {
  const ok = (rows) => rows.filter((r) => r.replayRate !== undefined);
  const bySize = ok(R.replay.bySize);
  const byLive = ok(R.replay.byLive);
  const out = {
    'perf-replay.svg': plot({
      title: `Replay and its floor: records/s against log size (${R.replay.bySize[0]?.live ?? ''} live mappings)`,
      x: { label: 'records in the log', log: true },
      y: { label: 'records/s', log: true },
      series: [
        { name: 'floor: JSON.parse + a Map update', points: bySize.map((r) => [r.size, r.floorRate.median]) },
        { name: 'replay: every property after every record', points: bySize.map((r) => [r.size, r.replayRate.median]) },
      ],
    }),
    'perf-replay-live.svg': plot({
      title: 'Replay and its floor: records/s against live mappings',
      x: { label: 'live mappings', log: true },
      y: { label: 'records/s', log: true },
      series: [
        { name: 'floor', points: byLive.map((r) => [r.live, r.floorRate.median]) },
        { name: 'replay', points: byLive.map((r) => [r.live, r.replayRate.median]) },
      ],
    }),
  };
  const series = [];
  for (const ser of [...new Set(R.scaled.map((r) => r.series))]) {
    const variants = [...new Set(R.scaled.filter((r) => r.series === ser).flatMap((r) => r.variants.map((v) => v.variant)))];
    for (const v of variants) {
      series.push({ name: `${ser}${variants.length > 1 ? ` (${v})` : ''}`, points: R.scaled.filter((r) => r.series === ser).flatMap((r) => r.variants.filter((p) => p.variant === v && p.exhausted).map((p) => [r.tasks, p.ms.median / 1000])) });
    }
  }
  const tasks = R.scaled.filter((r) => r.variants.some((p) => p.exhausted)).map((r) => r.tasks);
  const xDomain = tasks.length === 0 ? [0, 1] : [Math.max(0, Math.min(...tasks) - 1), Math.max(...tasks) + 1];
  out['perf-explore.svg'] = plot({ title: 'The explorer: time to exhaust against task count', x: { label: 'tasks', domain: xDomain }, y: { label: 'seconds to exhaust', log: true }, series });
  return out;
}

export function performanceDoc(R, goals, docPath) {
  const why = keptWhy(existsSync(docPath) ? readFileSync(docPath, 'utf8') : '');
  const L = [];
  L.push('# Performance');
  L.push('');
  L.push('<!-- Written by `npm run bench` (bench/run.mjs): edit only between the why markers, which it keeps. -->');
  L.push('');
  L.push(`Measured by \`${R.command}\` (${R.mode} mode) on ${R.machine}, Node ${R.node}, ${R.date}${R.commit ? `, commit ${R.commit}` : ''}. `
    + 'Each figure is the median of its runs, with the lowest and highest in parentheses where there were several; variants were run in turn (A B A B ...), '
    + 'each run in a fresh process (the built-in scenarios share one), so that a change in the machine\'s speed falls on both. The machine is shared: read the ratios, not the absolute times. '
    + `${R.load ? `The load average was ${R.load[0]} when the run began and ${R.load[1]} when it ended, on ${R.machine.split(' ')[0]} processors. ` : ''}The run took ${R.seconds} s${R.sectionSeconds ? ` (${Object.entries(R.sectionSeconds).map(([k, v]) => `${k} ${v} s`).join(', ')})` : ''}. `
    + `Flags of this build: ${['reduction', 'symmetry', 'workers'].map((f) => `${f} ${R.flags[f] ? 'yes' : '**not available in this build**'}`).join(', ')}.`);
  L.push('');
  L.push('To run it: `npm ci` (which builds dist/), then `npm run bench` (under 5 minutes on 2 cores), `BENCH_QUICK=1 npm run bench` (about 30 s, small sizes, one run each) '
    + 'or `BENCH_BIG=1 npm run bench` (every size, however long it takes). `BENCH_DOCS=<dir>` writes the document elsewhere; `BENCH_FROM=<results.json>` writes it again from a saved run. '
    + 'A flag of issue 11 that this build\'s `check --help` does not list is reported as not available, not failed. SPIN\'s pan is timed when `spin` and `cc` are on PATH.');
  L.push('');
  L.push('## Goals (issue 11)');
  L.push('');
  for (const g of goals) {
    L.push(`### ${g.title}: ${g.status}`);
    L.push('');
    L.push(`Measured: ${g.figure}.`);
    L.push('');
    L.push(`<!-- why:${g.id} -->`);
    L.push(why.get(g.id) ?? WHY_PLACEHOLDER);
    L.push(`<!-- /why:${g.id} -->`);
    L.push('');
  }
  L.push('## Replay against the floor');
  L.push('');
  L.push('The floor reads the same log line by line, `JSON.parse`s each record and updates one `Map` entry (the live mappings by IOVA): what any replay must at least do. '
    + 'Replay is `iommu-model replay --json` in the same kind of process: it validates, applies every record, compares its expectations, and checks every property after every record. '
    + 'The logs (bench/logs.mjs) are QEMU-like: set-up, then mmap, MAP_DMA, a DMA, and UNMAP_DMA and munmap of the oldest mapping; past 60,000 live mappings they spread over several containers (type1\'s dma_entry_limit is 65535). '
    + 'Peak RSS is the replaying process\'s, module loading included.');
  L.push('');
  L.push('![records/s against log size](perf-replay.svg)');
  L.push('');
  L.push(replayTable(R.replay.bySize, false));
  L.push('');
  L.push('![records/s against live mappings](perf-replay-live.svg)');
  L.push('');
  L.push(replayTable(R.replay.byLive, true));
  L.push('');
  if (R.replay.full !== null && R.replay.full.replayMs !== undefined) {
    L.push(`A full container (65535 one-page MAP_DMA, one more refused with ENOSPC, then UNMAP_DMA ALL): ${spread(R.replay.full.replayMs, secs)}, ${rate(R.replay.full.replayRate.median)} records/s, ${R.replay.full.ratio.median.toFixed(1)}x the floor${R.replay.full.clean ? '' : ' (**not clean**)'}.`);
    L.push('');
  } else if (R.replay.full?.skipped !== undefined || R.replay.full?.error !== undefined || (R.replay.full === null && R.mode !== 'quick')) {
    L.push(`A full container (65535 one-page MAP_DMA, ENOSPC, UNMAP_DMA ALL): not run: ${R.replay.full?.skipped ?? R.replay.full?.error ?? 'the bench\'s time for replay on this machine was spent'}.`);
    L.push('');
  }
  const tl = R.replay.timeline;
  if (tl !== null && tl !== undefined) {
    L.push(tl.timelineMs !== undefined
      ? `The timeline (replay --diff, --grep, --follow; inspect): replaying ${num(tl.records)} records while building it takes ${secs(tl.timelineMs)}, ${(tl.timelineMs / tl.replayMs).toFixed(2)}x the plain replay in the same process (${secs(tl.replayMs)}); it holds ${mib(tl.heap)} of heap with ${num(tl.checkpoints)} checkpoints, and a jump to a position takes ${tl.jumpMs.toFixed(2)} ms on average, ${tl.worstJump.toFixed(2)} ms at worst (${num(tl.jumps)} positions).`
      : `The timeline: ${tl.absent ? 'not available in this build' : `not run: ${tl.skipped ?? tl.error}`}.`);
    L.push('');
  }
  if (R.replay.stepper !== null) {
    L.push(`The object machines' stepper against xstate's \`transition()\` on the same ${num(R.replay.stepper.steps)} events: ${rate(R.replay.stepper.steps / (R.replay.stepper.ms / 1000))} against ${rate(R.replay.stepper.steps / (R.replay.stepper.xstateMs / 1000))} steps/s.`);
    L.push('');
  }
  L.push('## The explorer');
  L.push('');
  L.push('`iommu-model check --scheme upstream --json`, run in the bench\'s process for each scenario (the built-ins: the variants in rounds in one process, the first round warming the JIT) or in a fresh process per run (the scaled scenarios). '
    + 'Time is the search\'s, module loading left out; distinct/s is distinct states over it. Bytes per state is the process\'s peak RSS less its RSS once loaded, over the distinct states: '
    + 'the visited set, the frontier, everything the search kept (given where a run has its own process). Extras are what the report adds (reduction, symmetry, collision probability) when it has them.');
  L.push('');
  const head = ['variant', 'distinct', 'generated', 'time', 'distinct/s', 'B/state', 'violated', 'extras'];
  L.push('### Built-in scenarios (upstream scheme)');
  L.push('');
  L.push(table(['scenario', ...head], R.builtins.flatMap((r) => (r.error !== undefined ? [[r.scenario, `failed: ${r.error}`, '', '', '', '', '', '', '']] : r.variants.map((p, i) => exploreRow(p, [i === 0 ? `${r.scenario}${r.agrees ? '' : ' **verdicts differ**'}` : '']))))));
  L.push('');
  L.push('### Scaled scenarios');
  L.push('');
  L.push('N MAP_DMA tasks against M munmap tasks of DMA-mapped buffers (the shape of test/fixtures/many-tasks.ts), and exit-with-page-requests with N page-request tasks beside its exit, bind and driver tasks (bench/scenarios.mjs). '
    + 'A series stops growing where its next size is predicted (from the last growth) to pass the bench\'s cap.');
  L.push('');
  L.push('![time to exhaust against task count](perf-explore.svg)');
  L.push('');
  L.push(table(['scenario', 'tasks', ...head], R.scaled.flatMap((r) => [
    ...r.variants.map((p, i) => exploreRow(p, [i === 0 ? `${r.label}${r.agrees === false ? ' **verdicts differ**' : ''}` : '', i === 0 ? String(r.tasks) : ''])),
    ...Object.entries(r.skipped).map(([v, why]) => [r.variants.length === 0 ? r.label : '', r.variants.length === 0 ? String(r.tasks) : '', v, `not run: ${why}`, '', '', '', '', '', '']),
  ])));
  L.push('');
  L.push('### Workers');
  L.push('');
  const w = R.workers;
  L.push(!R.flags.workers ? '`check --workers` is not available in this build.'
    : w.speedup === undefined ? `Not measured: ${w.skipped ?? w.error}.`
      : `${w.label}: \`--workers 1\` ${spread(w.one.ms, secs)}, \`--workers 2\` ${spread(w.two.ms, secs)}; ${w.speedup.median.toFixed(2)}x (pairs ${w.speedup.min.toFixed(2)}-${w.speedup.max.toFixed(2)}); reports ${w.agrees ? 'agree' : '**differ**'} (${num(w.one.distinct)} and ${num(w.two.distinct)} distinct).`);
  L.push('');
  L.push('## Time to the first deadlock, end to end');
  L.push('');
  const d = R.deadlock;
  L.push(`\`node bin/iommu-model.js check --scenario map-vs-munmap --scheme test/fixtures/schemes/notifier-takes-iommu-lock.mjs\`, process start to exit: ${spread(d.check, secs)} (deadlock ${d.checkFound ? 'found' : '**not found**'}; check explores the whole space, it does not stop at the first violation). `
    + (d.pan === undefined ? `SPIN: ${d.panWhy}; the issue's anchor for pan is 0.09-0.10 s.`
      : `SPIN's pan on bench/map-vs-munmap.pml (the same race; built once with \`spin -a\` and \`cc -O2 -DSAFETY\`, ${secs(d.panCompileMs)}, not counted), process start to exit: ${spread(d.pan, secs)} (${d.panFound ? 'invalid end state found' : '**no deadlock found**'}; ${d.panVersion}).`));
  L.push('');
  return `${L.join('\n')}\n`;
}
