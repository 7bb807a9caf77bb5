/**
 * `check --scenario [--scheme]`: explores every schedule of a scenario under a scheme (its
 * header's unless --scheme says otherwise: the rule replay follows, schemeOfLog), checks every
 * property, and with --out writes the shortest counterexample of the first violated property.
 * Exits 1 on a violation, 4 when a limit (--max-states, --max-memory, --time-limit) cut the
 * search off before any was found; with --checkpoint a cut-off search is saved, and --resume
 * continues one.
 */
import { PROPERTY_NAMES } from '../../vocab/properties.js';
import { counterexampleLines } from '../../run/counterexample.js';
import { explore } from '../../run/explore.js';
import { documentOut, EXIT_CLEAN, EXIT_FOUND, EXIT_NOT_EXHAUSTED, type Io } from '../io.js';
import { checkOutput, writeAtomic } from '../output.js';
import { checkJson } from '../render/json.js';
import { renderCheck, renderExploreProgress, type CheckRun } from '../render/text.js';
import { checkWritable, readCheckpoint, writeCheckpoint } from '../checkpoint.js';
import { stopAtLimits } from '../limits.js';
import { scaleMode } from './scale.js';
import { setup, type CheckOptions } from './check-setup.js';

export type { CheckOptions } from './check-setup.js';


export async function runCheck(io: Io, o: CheckOptions): Promise<number> {
  const scale = scaleMode(o);
  if (scale !== null) return scale(io, o);
  const { header, sc, scheme, id, maxStates, limits } = await setup(o);
  const resume = o.resume === undefined ? undefined : { state: readCheckpoint(o.resume, id), file: o.resume };
  // A resumed search saves itself where it came from, unless told otherwise.
  const checkpoint = o.checkpoint ?? o.resume;
  if (checkpoint !== undefined) checkWritable(checkpoint);
  if (o.out !== undefined) checkOutput(o.out);
  const t0 = process.hrtime.bigint();
  const progress = io.isTTY
    ? (p: { generated: number; distinct: number; depth: number }) => io.stderr(`\r${renderExploreProgress(p)}`)
    : undefined;
  const report = explore(sc, scheme, {
    maxStates,
    shouldStop: stopAtLimits(limits, t0),
    checkpoint: checkpoint !== undefined,
    reduction: o.reduction === true,
    symmetry: o.symmetry === true,
    ...(resume === undefined ? {} : { resume }),
    ...(progress === undefined ? {} : { onProgress: progress }),
  });
  if (progress !== undefined) io.stderr('\r\x1b[K');
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const byProperty = new Map(report.findings.map((f) => [f.property, f]));
  const first = PROPERTY_NAMES.map((p) => byProperty.get(p)).find((f) => f !== undefined);
  const written = o.out !== undefined && first !== undefined ? { file: o.out, finding: first } : undefined;
  if (written !== undefined) writeAtomic(written.file, `${counterexampleLines(sc, scheme, written.finding).join('\n')}\n`, documentOut(io));
  if (checkpoint !== undefined && report.state !== undefined) writeCheckpoint(checkpoint, id, report.state);
  const run: CheckRun = {
    scenario: o.scenario,
    schemeArg: o.scheme ?? header.scheme,
    scheme: scheme.name,
    report,
    seconds,
    statesPerSecond: Math.round((report.statesGenerated - (report.resumedAt ?? 0)) / Math.max(seconds, 1e-6)),
    ...(written === undefined ? {} : { counterexample: written }),
    ...(resume === undefined ? {} : { resumedFrom: resume.file }),
    ...(checkpoint === undefined || report.state === undefined ? {} : { checkpoint }),
  };
  io.stdout(o.json === true ? checkJson(run) : renderCheck(run, io.term));
  // A search cut off before it found a violation shows nothing holds (exit 4).
  return report.findings.length > 0 ? EXIT_FOUND : report.exhausted ? EXIT_CLEAN : EXIT_NOT_EXHAUSTED;
}
