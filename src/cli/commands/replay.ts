/**
 * `replay <log>`: folds a log, checks every property after every record, and reports; or, with
 * --at, the world after one record; with --why, the chain of causes of a derived record; with
 * --record, a recording of every stimulus with its outcome and derived records; with --trace,
 * every record's outcome on one line and its derived records below it, before the report.
 */
import { describeWorld } from '../../core/view.js';
import { Replay, recordLines, type ReplayReport, type StepRecord } from '../../run/replay.js';
import { InputError, showValue } from '../../vocab/errors.js';
import type { Derived, JsonValue } from '../../vocab/records.js';
import { documentOut, EXIT_CLEAN, EXIT_FOUND, parseSize, streamLog, type Io } from '../io.js';
import { isStdout, openOutput, type Output } from '../output.js';
import { reportJson, whyJson, worldJson } from '../render/json.js';
import { renderReport, renderTrace, renderWhy, renderWorld } from '../render/text.js';
import { loadScheme } from '../resolve.js';
import { TimelineBuilder, type Timeline } from '../../run/timeline.js';
import { diffRecords, follow, grep, parseQuery, parseSeqArg } from '../../run/timeline-query.js';
import { diffJson, followJson, grepJson, renderDiff, renderFollow, renderGrep } from '../render/timeline.js';

export interface ReplayOptions {
  scheme?: string;
  json?: boolean;
  at?: string;
  why?: string;
  record?: string;
  trace?: boolean;
  diff?: string[];
  grep?: string;
  follow?: string;
  maxLine: string;
}

function parseSeq(v: string, flag: string): number {
  if (!/^[1-9][0-9]*$/.test(v)) throw new InputError('<command line>', null, flag, `expected a positive record number, got ${showValue(v)}`);
  return Number(v);
}

/** --why's <seq> or <seq>.<derived id>; id 0 when only the stimulus is named. */
function parseWhy(v: string): { seq: number; id: number } {
  const m = /^([1-9][0-9]*)(?:\.([1-9][0-9]*))?$/.exec(v);
  if (m === null) throw new InputError('<command line>', null, '--why', `expected <seq> or <seq>.<derived id>, got ${showValue(v)}`);
  return { seq: Number(m[1]), id: m[2] === undefined ? 0 : Number(m[2]) };
}

/** The derived records from `id` back to the stimulus, following `via`. id 0: the whole tree. */
function whyChain(step: StepRecord, id: number): Derived[] | null {
  if (id === 0) return [...step.derived];
  const byId = new Map(step.derived.map((d) => [d.id, d]));
  const chain: Derived[] = [];
  let cur = byId.get(id);
  if (cur === undefined) return null;
  while (cur !== undefined) {
    chain.push(cur);
    cur = cur.via === undefined ? undefined : byId.get(cur.via);
  }
  return chain;
}

/** --diff, --grep, --follow: the arguments checked before the log is read. */
function navigation(o: ReplayOptions): ((t: Timeline) => string) | undefined {
  if (o.diff !== undefined) {
    if (o.diff.length !== 2) throw new InputError('<command line>', null, '--diff', `expected two record numbers <a> <b>, got ${o.diff.length}`);
    const [a, b] = o.diff.map((v) => parseSeqArg(v, '--diff')) as [number, number];
    return (t) => {
      const changes = diffRecords(t, a, b);
      return o.json === true ? diffJson(a, b, changes) : renderDiff(a, b, changes);
    };
  }
  if (o.grep !== undefined) {
    const text = o.grep;
    const q = parseQuery(text);
    return (t) => {
      const hits = grep(t, q);
      return o.json === true ? grepJson(text, hits) : renderGrep(text, q, hits);
    };
  }
  if (o.follow !== undefined) {
    const id = o.follow;
    return (t) => {
      const ts = follow(t, id);
      return o.json === true ? followJson(id, ts) : renderFollow(id, ts);
    };
  }
  return undefined;
}

export async function runReplay(io: Io, file: string, o: ReplayOptions): Promise<number> {
  const nav = navigation(o);
  // the timeline is built only when navigation is asked for (docs/navigation.md)
  const timeline = nav === undefined ? undefined : new TimelineBuilder();
  const at = o.at === undefined ? undefined : parseSeq(o.at, '--at');
  const why = o.why === undefined ? undefined : parseWhy(o.why);
  const maxLine = parseSize(o.maxLine, '--max-line');
  // --at and --why print one record and write no recording.
  const recordTo = at === undefined && why === undefined && nav === undefined ? o.record : undefined;
  // --json promises one document on stdout: a recording cannot share it
  if (o.json === true && recordTo !== undefined && isStdout(recordTo)) throw new InputError('<command line>', null, '--record', `'${recordTo}' and --json both write to stdout: give the recording a file`);
  let recording: Output | undefined;
  const trace: StepRecord[] = [];
  let whyStep: StepRecord | undefined;
  let atView: { [k: string]: JsonValue } | undefined;
  let replay: Replay | undefined;
  const onStep = (r: StepRecord): void => {
    timeline?.push(r, replay!.world);
    if (recording !== undefined) recording.write(`${recordLines(r).join('\n')}\n`);
    if (o.trace === true) trace.push(r);
    if (why !== undefined && r.stimulus.seq === why.seq) whyStep = r;
    if (at !== undefined && r.stimulus.seq === at) {
      atView = describeWorld(replay!.world);
    }
  };
  const schemeOverride = o.scheme === undefined ? undefined : await loadScheme(o.scheme);
  let report: ReplayReport;
  try {
    // The recording streams to its file as the replay goes (one buffer in memory); it replaces
    // the target only when the whole log replayed, so bad input at any line leaves it untouched.
    await streamLog(
      file,
      (h) => {
        replay = new Replay(h, file, onStep, schemeOverride);
        if (recordTo !== undefined) {
          recording = openOutput(recordTo, documentOut(io));
          recording.write(`${JSON.stringify(h)}\n`);
        }
      },
      // After --at's record the rest of the log is still read, validated and folded, so that a
      // bad record anywhere is exit 2 (its violations and divergences are not --at's to report).
      (it) => replay!.push(it),
      { maxLine },
    );
    report = replay!.finish();
    recording?.close();
  } catch (e) {
    recording?.abort();
    throw e;
  }
  if (nav !== undefined) {
    io.stdout(nav(timeline!.finish()));
    return EXIT_CLEAN;
  }
  if (at !== undefined) {
    if (atView === undefined) throw new InputError(file, null, '--at', `no record with seq ${at}`);
    io.stdout(o.json === true ? worldJson(at, atView) : renderWorld(at, atView));
    return EXIT_CLEAN;
  }
  if (why !== undefined) {
    if (whyStep === undefined) throw new InputError(file, null, '--why', `no stimulus with seq ${why.seq}`);
    const chain = whyChain(whyStep, why.id);
    if (chain === null) throw new InputError(file, null, '--why', `record ${why.seq} caused no derived record ${why.id}`);
    io.stdout(o.json === true ? whyJson(o.why!, chain) : renderWhy(whyStep, chain, why.id === 0));
    return EXIT_CLEAN;
  }
  if (o.json === true) io.stdout(reportJson(file, report, o.trace === true ? trace : undefined));
  else io.stdout(`${o.trace === true ? renderTrace(trace, report.violations) : ''}${renderReport(file, report, io.term)}`);
  return report.divergences.length > 0 || report.violations.length > 0 ? EXIT_FOUND : EXIT_CLEAN;
}
