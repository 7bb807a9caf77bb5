/**
 * check's scale-out modes (docs/scale-out.md): `--shard k/n` (one shard of the search; its
 * report, with --json, is what `merge` reads), `--workers N` (every shard on N worker threads,
 * merged: check's report) and `--swarm k/n` (a bounded randomised search, ../../run/swarm.ts).
 */
import { counterexampleLines } from '../../run/counterexample.js';
import type { ExploreReport } from '../../run/explore.js';
import { mergeShards } from '../../run/merge.js';
import { explorePrefix, exploreFromPrefix, exploreShard, parseShard, type ShardReport } from '../../run/shard.js';
import { exploreSwarm } from '../../run/swarm.js';
import { InputError } from '../../vocab/errors.js';
import { PROPERTY_NAMES } from '../../vocab/properties.js';
import { documentOut, EXIT_CLEAN, EXIT_FOUND, EXIT_NOT_EXHAUSTED, type Io } from '../io.js';
import { stopAtLimits } from '../limits.js';
import { checkOutput, writeAtomic } from '../output.js';
import { checkJson } from '../render/json.js';
import { renderShard } from '../render/shard.js';
import { renderCheck, type CheckRun } from '../render/text.js';
import { shardDocument } from '../shard-report.js';
import { runShards, WORKER_SHARDS } from '../workers.js';
import { positive, setup, type CheckOptions, type Setup } from './check-setup.js';

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** Prints a report as check does, writes --out, and gives check's exit code. */
function finish(io: Io, o: CheckOptions, s: Setup, report: ExploreReport, secs: number, extra: string): number {
  const byProperty = new Map(report.findings.map((f) => [f.property, f]));
  const first = PROPERTY_NAMES.map((p) => byProperty.get(p)).find((f) => f !== undefined);
  const written = o.out !== undefined && first !== undefined ? { file: o.out, finding: first } : undefined;
  if (written !== undefined) writeAtomic(written.file, `${counterexampleLines(s.sc, s.scheme, written.finding).join('\n')}\n`, documentOut(io));
  const run: CheckRun = {
    scenario: o.scenario,
    schemeArg: o.scheme ?? s.sc.header.scheme ?? s.scheme.name,
    scheme: s.scheme.name,
    report,
    seconds: secs,
    statesPerSecond: Math.round(report.statesGenerated / Math.max(secs, 1e-6)),
    ...(written === undefined ? {} : { counterexample: written }),
  };
  io.stdout(o.json === true ? checkJson(run) : `${renderCheck(run, io.term)}${extra}`);
  return report.findings.length > 0 ? EXIT_FOUND : report.exhausted ? EXIT_CLEAN : EXIT_NOT_EXHAUSTED;
}

/** `check --shard k/n`: the prefix and shard k's part; its report for merge. Exit 0 once it is printed: the verdicts are merge's. */
async function runShard(io: Io, o: CheckOptions): Promise<number> {
  const spec = parseShard(o.shard!, '--shard');
  const depth = o.shardDepth === undefined ? undefined : positive('--shard-depth', o.shardDepth);
  const s = await setup(o);
  const t0 = process.hrtime.bigint();
  const report = exploreShard(s.sc, s.scheme, spec, { maxStates: s.maxStates, shouldStop: stopAtLimits(s.limits, t0) }, depth);
  const secs = seconds(t0);
  io.stdout(o.json === true ? shardDocument(s.id, o.scheme ?? s.sc.header.scheme ?? s.scheme.name, secs, report) : renderShard(o.scenario, report, secs));
  return EXIT_CLEAN;
}

/** `check --workers N`: the prefix here, WORKER_SHARDS shards on N threads, merged. */
async function runWorkers(io: Io, o: CheckOptions): Promise<number> {
  const workers = positive('--workers', o.workers!);
  const s = await setup(o);
  if (o.out !== undefined) checkOutput(o.out);
  const t0 = process.hrtime.bigint();
  const limits = { maxStates: s.maxStates, shouldStop: stopAtLimits(s.limits, t0) };
  const prefix = explorePrefix(s.sc, s.scheme, WORKER_SHARDS, limits);
  const reports: ShardReport[] =
    prefix.state === undefined
      ? [exploreFromPrefix(s.sc, s.scheme, prefix, { k: 1, n: 1 }, limits)]
      : await runShards(workers, { file: s.file, maxLine: s.maxLine, schemeArg: o.scheme, maxStates: s.maxStates, maxMemory: s.limits.maxMemory, timeLimit: s.limits.timeLimit, prefix, n: WORKER_SHARDS });
  const report = mergeShards(s.sc, s.scheme, reports);
  const split = reports[0]!.split;
  const note = split === null ? '' : `${WORKER_SHARDS} shards of the ${split.layer} nodes at depth ${split.depth}, on ${workers} worker thread${workers > 1 ? 's' : ''}: the counts are summed over the shards\n`;
  return finish(io, o, s, report, seconds(t0), note);
}

/** `check --swarm k/n`: one bounded randomised search, seeded by k and n; never exhaustive. */
async function runSwarm(io: Io, o: CheckOptions): Promise<number> {
  const spec = parseShard(o.swarm!, '--swarm');
  const s = await setup(o);
  if (o.out !== undefined) checkOutput(o.out);
  const t0 = process.hrtime.bigint();
  const shard = exploreSwarm(s.sc, s.scheme, spec, { maxStates: s.maxStates, shouldStop: stopAtLimits(s.limits, t0) });
  const report = mergeShards(s.sc, s.scheme, [shard]);
  const secs = seconds(t0);
  if (o.json === true) {
    // the run's report for merge; --out is written as without --json
    finish({ ...io, stdout: () => undefined }, o, s, report, secs, '');
    io.stdout(shardDocument(s.id, o.scheme ?? s.sc.header.scheme ?? s.scheme.name, secs, shard));
    return report.findings.length > 0 ? EXIT_FOUND : EXIT_NOT_EXHAUSTED;
  }
  return finish(io, o, s, report, secs, `swarm ${spec.k}/${spec.n} is a bounded randomised search, not exhaustive: a property not violated is not shown to hold\n`);
}

/** Whether check runs in one of these modes, and which. */
export function scaleMode(o: CheckOptions): ((io: Io, o: CheckOptions) => Promise<number>) | null {
  if (o.shard !== undefined) return runShard;
  if (o.workers !== undefined) return runWorkers;
  if (o.swarm !== undefined) return runSwarm;
  if (o.shardDepth !== undefined) throw new InputError('<command line>', null, '--shard-depth', 'is an option of --shard k/n');
  return null;
}
