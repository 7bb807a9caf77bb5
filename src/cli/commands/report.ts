/**
 * `report <log> -o <file.html>`: replays the log (as `replay` does) and writes one
 * self-contained HTML page of it: the timeline, each container's IOVA map under a slider, the
 * objects' lifecycles, cause chains, the violations and divergences and a lock finding's
 * scenario (docs/report.md). Exit 0 when the page is written, whatever the replay found.
 */
import { Replay } from '../../run/replay.js';
import { documentOut, EXIT_CLEAN, parseSize, streamLog, type Io } from '../io.js';
import { checkOutput, writeAtomic } from '../output.js';
import { ReportCollector } from '../render/report/data.js';
import { reportHtml } from '../render/report/page.js';
import { loadScheme } from '../resolve.js';

export interface ReportOptions {
  out: string;
  scheme?: string;
  maxLine: string;
}

export async function runReport(io: Io, file: string, o: ReportOptions): Promise<number> {
  const maxLine = parseSize(o.maxLine, '--max-line');
  // a path that cannot be written is refused before the replay, not after it
  checkOutput(o.out);
  const schemeOverride = o.scheme === undefined ? undefined : await loadScheme(o.scheme);
  let replay: Replay | undefined;
  let collector: ReportCollector | undefined;
  await streamLog(
    file,
    (h) => {
      collector = new ReportCollector(h, file);
      replay = new Replay(h, file, collector.onStep, schemeOverride);
    },
    (it) => replay!.push(it),
    { maxLine },
  );
  const data = collector!.finish(replay!.finish());
  writeAtomic(o.out, reportHtml(data), documentOut(io));
  if (o.out !== '-') io.stderr(`${o.out}: the report of ${file} (${count(data.rec.seq.length, 'record')}, ${count(data.violations.length, 'violation')}, ${count(data.divergences.length, 'divergence')})\n`);
  return EXIT_CLEAN;
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
