/**
 * `merge <report.json>...`: the reports of `check --shard k/n --json` (every shard of one
 * search) or of `check --swarm k/n --json` runs as one report, printed as check prints it, with
 * the same verdicts and shortest counterexample as one run (src/run/merge.ts). Reads the
 * scenario and the scheme the reports name (each must be the one the shards explored: its
 * sha256), for the LockOrder history and --out. Exits as check.
 */
import { counterexampleLines } from '../../run/counterexample.js';
import { scenarioOf } from '../../run/explore.js';
import { mergeShards } from '../../run/merge.js';
import { schemeOfLog } from '../../run/replay.js';
import { PROPERTY_NAMES } from '../../vocab/properties.js';
import { InputError } from '../../vocab/errors.js';
import { searchIdentity } from '../checkpoint.js';
import { documentOut, EXIT_CLEAN, EXIT_FOUND, EXIT_NOT_EXHAUSTED, parseSize, readLog, type Io } from '../io.js';
import { checkOutput, writeAtomic } from '../output.js';
import { checkJson } from '../render/json.js';
import { renderCheck, type CheckRun } from '../render/text.js';
import { loadScheme, scenarioFile } from '../resolve.js';
import { readShardReports } from '../shard-report.js';

export interface MergeOptions {
  out?: string;
  json?: boolean;
  scenario?: string;
  maxLine: string;
}

export async function runMerge(io: Io, files: readonly string[], o: MergeOptions): Promise<number> {
  const maxLine = parseSize(o.maxLine, '--max-line');
  const docs = readShardReports(files);
  const first = docs[0]!;
  const name = o.scenario ?? first.scenario.name;
  const file = scenarioFile(name);
  // The header's scheme is named by its name; a scheme file by its path, as the shards were given it.
  const { header, items } = await readLog(file, { maxLine });
  const override = first.schemeArg === header.scheme || (header.scheme === undefined && first.schemeArg === 'upstream') ? undefined : await loadScheme(first.schemeArg);
  const scheme = schemeOfLog(header, file, override);
  const id = searchIdentity(name, file, scheme);
  if (id.scenario.sha256 !== first.scenario.sha256) throw new InputError(file, null, null, `not the scenario the shards explored (${first.scenario.name}, sha256 ${first.scenario.sha256.slice(0, 12)}): name it with --scenario`);
  if (id.scheme.sha256 !== first.scheme.sha256) throw new InputError(first.schemeArg, null, null, `not the scheme the shards explored ('${first.scheme.name}'): its policy values differ`);
  if (o.out !== undefined) checkOutput(o.out);
  const t0 = process.hrtime.bigint();
  const sc = scenarioOf(header, items, file);
  const report = mergeShards(sc, scheme, docs.map((d) => d.report));
  const swarm = first.report.mode === 'swarm';
  const merged = swarm ? { ...report, exhausted: false, cutOff: report.cutOff ?? 'swarm: not exhaustive' } : report;
  const byProperty = new Map(merged.findings.map((f) => [f.property, f]));
  const firstFound = PROPERTY_NAMES.map((p) => byProperty.get(p)).find((f) => f !== undefined);
  const written = o.out !== undefined && firstFound !== undefined ? { file: o.out, finding: firstFound } : undefined;
  if (written !== undefined) writeAtomic(written.file, `${counterexampleLines(sc, scheme, written.finding).join('\n')}\n`, documentOut(io));
  // The shards' time is the work done; merge's own is small beside it.
  const seconds = docs.reduce((a, d) => a + d.seconds, 0) + Number(process.hrtime.bigint() - t0) / 1e9;
  const run: CheckRun = {
    scenario: name,
    schemeArg: first.schemeArg,
    scheme: scheme.name,
    report: merged,
    seconds,
    statesPerSecond: Math.round(merged.statesGenerated / Math.max(seconds, 1e-6)),
    ...(written === undefined ? {} : { counterexample: written }),
  };
  const split = first.report.split;
  const note = swarm
    ? `merged ${docs.length} swarm run${docs.length > 1 ? 's' : ''}: bounded randomised searches, not exhaustive\n`
    : `merged ${docs.length} shard${docs.length > 1 ? 's' : ''}${split === null ? ' (the search ended within the prefix)' : ` of the ${split.layer} nodes at depth ${split.depth}: the counts are summed over the shards`}\n`;
  io.stdout(o.json === true ? checkJson(run) : `${renderCheck(run, io.term)}${note}`);
  return merged.findings.length > 0 ? EXIT_FOUND : merged.exhausted ? EXIT_CLEAN : EXIT_NOT_EXHAUSTED;
}
