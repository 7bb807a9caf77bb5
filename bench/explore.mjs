// The explorer through the built CLI (`check --json`): the built-in scenarios under upstream,
// the scaled ones (bench/scenarios.mjs) at growing sizes, each variant (reduction, symmetry,
// workers: whichever flags this build's `check --help` lists) side by side.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, until } from './config.mjs';
import { child, interleave, pairRatios, predictNext, stats } from './measure.mjs';
import { exitWithPageRequests, mapVsMunmap } from './scenarios.mjs';

const say = (s) => process.stderr.write(`${s}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** The variants of a search this build offers: always the default; the others where `check --help` lists their flag. */
export function exploreVariants(flags) {
  const v = [{ name: 'default', args: [] }];
  // reduction is opt-in (check --reduction: sleep sets; docs/concurrency.md)
  if (flags.reduction) v.push({ name: 'reduction', args: ['--reduction'] });
  if (flags.symmetry) v.push({ name: 'symmetry', args: ['--symmetry'] }); // opt-in too (check --symmetry: src/core/symmetry.ts)
  return v;
}

function checkArgs(file, extra, capMs) {
  return ['check', '--scenario', file, '--scheme', 'upstream', '--json', '--max-states', '1000000000',
    ...(Number.isFinite(capMs) ? ['--time-limit', String(Math.ceil((capMs * 1.5) / 1000))] : []), ...extra];
}

/** What a check report says, kept small: counts, verdicts, each counterexample's length, extras (reduction, collision) when present. */
export function summarise(json) {
  if (json === null || json === undefined || json.error !== undefined) return { error: json?.error?.message ?? 'no JSON report' };
  const violated = Object.entries(json.properties ?? {}).filter(([, v]) => v === 'violated').map(([k]) => k).sort();
  const steps = Object.fromEntries((json.violations ?? []).map((v) => [v.property, v.steps]));
  const extra = Object.fromEntries(Object.entries(json).filter(([k, v]) => /reduc|prun|collision|symmetr|workers/i.test(k) && typeof v !== 'object').map(([k, v]) => [k, v]));
  return { distinct: json.distinctStates, generated: json.statesGenerated, depth: json.depth, exhausted: json.exhausted, cutOff: json.cutOff, lockEdges: json.lockEdges, violated, steps, extra };
}

/** Whether two exhausted searches agree: the same violated properties, counterexample lengths and lock graph size. */
function agree(a, b) {
  if (!a.exhausted || !b.exhausted) return null;
  return JSON.stringify([a.violated, a.steps, a.lockEdges]) === JSON.stringify([b.violated, b.steps, b.lockEdges]);
}

/** Every built-in scenario, upstream scheme: all in one process, each scenario's variants in rounds. */
export async function builtinSection(root, variants) {
  say('explorer: built-in scenarios (upstream)');
  const names = readdirSync(join(root, 'src', 'scenarios')).filter((x) => x.endsWith('.jsonl')).sort();
  const groups = names.map((f) => variants.map((v) => checkArgs(join(root, 'src', 'scenarios', f), v.args, Infinity)));
  const rounds = until(0.5) > 0 ? { ...CONFIG.builtinRounds, budgetMs: Math.min(CONFIG.builtinRounds.budgetMs, until(0.5) / names.length) } : { min: 1, max: 1, budgetMs: 0 };
  const r = await child({ kind: 'cli-rounds', groups, ...rounds });
  if (r.code < 0) { say(`  ${r.error}`); return [{ scenario: 'every built-in scenario', error: r.error }]; }
  return names.map((f, k) => {
    const name = f.replace(/\.jsonl$/, '');
    const per = variants.map((v, i) => {
      const runs = r.groups[k][i];
      const s = summarise(runs[runs.length - 1].json);
      const ms = stats(runs.map((x) => x.ms));
      return { variant: v.name, ...s, ms, rate: s.distinct / (ms.median / 1000) };
    });
    const agrees = per.slice(1).map((p) => agree(per[0], p));
    say(`  ${name}: ${per.map((p) => `${p.variant} ${p.distinct} distinct ${p.ms.median.toFixed(0)} ms`).join('; ')}${agrees.some((a) => a === false) ? '  VERDICTS DIFFER' : ''}`);
    return { scenario: name, variants: per, agrees: agrees.every((a) => a !== false) };
  });
}

/** One scaled scenario: each variant in its own fresh process per run, interleaved. */
async function measureScaled(file, variants, reps) {
  const results = await interleave(variants.map((v) => () => child({ kind: 'cli', args: checkArgs(file, v.args, CONFIG.exploreCapMs), warm: true })), { min: reps, max: reps });
  return variants.map((v, i) => {
    const runs = results[i];
    const bad = runs.find((r) => r.code < 0);
    if (bad !== undefined) return { variant: v.name, error: bad.error };
    const s = summarise(runs[runs.length - 1].json);
    if (s.error !== undefined) return { variant: v.name, error: s.error };
    const ms = stats(runs.map((x) => x.ms));
    const mem = stats(runs.map((x) => x.memBytes));
    return { variant: v.name, ...s, ms, rate: s.distinct / (ms.median / 1000), mem, bytesPerState: s.distinct > 0 ? mem.median / s.distinct : null };
  });
}

/** The two scaled series, each variant grown until its next size is predicted past the cap. */
export async function scaledSection(dir, root, variants) {
  const t0 = now();
  const series = [
    { series: 'map vs munmap', share: 0.7, sizes: CONFIG.mapSizes.map(([n, m]) => ({ label: `${n} map vs ${m} munmap`, key: `map${n}x${m}`, tasks: n + m, text: () => mapVsMunmap(n, m) })) },
    { series: 'exit + page requests', share: 0.88, sizes: CONFIG.prqSizes.map((n) => ({ label: `exit with ${n} page requests`, key: `prq${n}`, tasks: n + 3, text: () => exitWithPageRequests(root, n) })) },
  ];
  const rows = [];
  for (const s of series) {
    say(`explorer: ${s.series}`);
    const times = new Map(variants.map((v) => [v.name, []]));
    const dropped = new Map();
    for (const size of s.sizes) {
      const run = [];
      const skipped = {};
      for (const v of variants) {
        if (dropped.has(v.name)) continue;
        const predicted = predictNext(times.get(v.name));
        if (predicted > CONFIG.exploreCapMs) skipped[v.name] = `predicted ${(predicted / 1000).toFixed(0)} s > the ${(CONFIG.exploreCapMs / 1000).toFixed(0)} s cap (BENCH_BIG=1 runs it)`;
        else if (now() - t0 > CONFIG.scaledBudgetMs) skipped[v.name] = `the bench's ${(CONFIG.scaledBudgetMs / 1000).toFixed(0)} s for scaled scenarios was spent (BENCH_BIG=1 runs it)`;
        else if (times.get(v.name).length > 0 && predicted > until(s.share)) skipped[v.name] = `predicted ${(predicted / 1000).toFixed(0)} s, past the bench's time for this series on this machine (BENCH_BIG=1 runs it)`;
        else run.push(v);
      }
      for (const [v, why] of Object.entries(skipped)) dropped.set(v, `${size.label}: ${why}`);
      // skipped: what stopped at this size (the table's rows); notRun: every variant not run here, and why (the goals')
      const row = { series: s.series, label: size.label, key: size.key, tasks: size.tasks, variants: [], skipped, notRun: Object.fromEntries([...dropped].filter(([v]) => !run.some((x) => x.name === v)).map(([v, why]) => [v, skipped[v] ?? `not run after ${why}`])) };
      if (run.length > 0) {
        const file = join(dir, `${size.key}.jsonl`);
        writeFileSync(file, size.text());
        const last = Math.max(...run.map((v) => times.get(v.name).at(-1) ?? 0));
        row.variants = await measureScaled(file, run, last < 3000 ? CONFIG.scaledReps : 1);
        for (const p of row.variants) {
          if (p.error !== undefined || !p.exhausted) dropped.set(p.variant, `${size.label}: ${p.error ?? `cut off at ${p.distinct} distinct states (${p.cutOff})`}`);
          else times.get(p.variant).push(p.ms.median);
        }
        const ok = row.variants.filter((p) => p.error === undefined);
        row.agrees = ok.slice(1).every((p) => agree(ok[0], p) !== false);
      }
      rows.push(row);
      say(`  ${size.label}: ${row.variants.map((p) => (p.error ? `${p.variant} ${p.error}` : `${p.variant} ${p.distinct} distinct ${(p.ms.median / 1000).toFixed(2)} s${p.exhausted ? '' : ' (cut off)'} ${p.bytesPerState === null ? '' : `${Math.round(p.bytesPerState)} B/state`}`)).join('; ') || 'skipped'}`);
    }
  }
  return rows;
}

/**
 * --workers 1 against --workers 2 on the largest map-vs-munmap size that ran in 0.5 to 3 s in one
 * process (the shards repeat work: a worker run takes several times that), with the one-process
 * time beside them.
 */
export async function workersSection(dir, scaled) {
  const candidates = scaled.filter((r) => r.series === 'map vs munmap' && r.variants[0]?.variant === 'default' && r.variants[0].exhausted && r.variants[0].ms.median >= 500);
  const pick = candidates.filter((r) => r.variants[0].ms.median <= 3_000).at(-1);
  if (pick === undefined) return { skipped: 'no map-vs-munmap size ran long enough (0.5 s) to time workers on' };
  say(`explorer: --workers 1 vs 2 on ${pick.label}`);
  const file = join(dir, `${pick.key}.jsonl`);
  const pairs = pick.variants[0].ms.median * 4 > until(0.95) ? { min: 1, max: 1 } : { ...CONFIG.workerPairs, budgetMs: Math.min(CONFIG.workerPairs.budgetMs, until(0.95)) };
  const [one, two] = await interleave([1, 2].map((n) => () => child({ kind: 'cli', args: checkArgs(file, ['--workers', String(n)], Infinity) })), pairs);
  const bad = [...one, ...two].find((r) => r.code < 0 || r.json === null);
  if (bad !== undefined) return { label: pick.label, error: bad.error ?? bad.stderr };
  const s1 = summarise(one.at(-1).json);
  const s2 = summarise(two.at(-1).json);
  const r = { label: pick.label, key: pick.key, single: pick.variants[0].ms.median, one: { ...s1, ms: stats(one.map((x) => x.ms)) }, two: { ...s2, ms: stats(two.map((x) => x.ms)) }, speedup: pairRatios(one, two), agrees: agree(s1, s2) !== false };
  say(`  workers 1 ${(r.one.ms.median / 1000).toFixed(2)} s, workers 2 ${(r.two.ms.median / 1000).toFixed(2)} s: ${r.speedup.median.toFixed(2)}x; one process without --workers ${(r.single / 1000).toFixed(2)} s`);
  return r;
}
