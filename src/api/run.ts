/**
 * replay, check and explain as functions: what `iommu-model replay` and `iommu-model check`
 * compute and print, returned as data (src/run/ does the work; the CLI's resolve and io find
 * and read the files). Nothing here prints or exits; errors are src/vocab/errors.ts's.
 */
import { basename } from 'node:path';
import type { Violation } from '../checks/properties.js';
import type { ChainLink, LockScenario } from '../checks/scenario.js';
import { detailLines } from '../cli/render/finding.js';
import { findingLines, violationLines } from '../cli/render/text.js';
import { readLog, streamLog } from '../cli/io.js';
import { loadScheme, scenarioFile } from '../cli/resolve.js';
import { parseLog, type LogItem } from '../log/reader.js';
import { counterexampleLines } from '../run/counterexample.js';
import { explore, scenarioOf, type ExploreReport, type Finding } from '../run/explore.js';
import { schemeOfLog, type Replay, type ReplayReport } from '../run/replay.js';
import { DEMO_MAX_STATES, requireSetup, verdictsOf, type Verdict } from '../run/verdicts.js';
import type { Scheme } from '../schemes/scheme.js';
import { InputError, showValue } from '../vocab/errors.js';
import type { Header } from '../vocab/records.js';
import type { ReleaseName } from '../vocab/releases.js';
import { tracedReplay, type Applied } from './applied.js';
import { recordText, type StimulusRecord } from './records.js';

/** A log: a file (streamed), JSONL text, or records (a header made of `scheme`/`kernel`). */
export type LogSource =
  | { readonly file: string }
  | { readonly text: string; /** The name errors give the text. Default '<text>'. */ readonly name?: string }
  | {
      /** Records as createModel's apply takes them; a `seq` is allowed (it must increase). */
      readonly records: readonly (StimulusRecord & { readonly seq?: number })[];
      readonly scheme?: string;
      readonly kernel?: ReleaseName;
      /** The name errors give the records (line 1 is the header, record i is line i + 2). Default '<records>'. */
      readonly name?: string;
    };

export interface ReplayOptions {
  /** A scheme instead of the header's: a built-in name, a scheme module's path, or a Scheme. */
  readonly scheme?: string | Scheme;
  /** Also return `steps`: what each record did (replay --trace). */
  readonly steps?: boolean;
}

export interface ReplayResult extends ReplayReport {
  /** With `steps: true`: each record, in order, then the steps of the default schedule. */
  readonly steps?: readonly Applied[];
}

/** A scheme option: undefined stays undefined; a name or path is loaded (async); an object is taken as is. */
export async function schemeOption(s: string | Scheme | undefined): Promise<Scheme | undefined> {
  return typeof s === 'string' ? loadScheme(s) : s;
}

function recordsText(src: Extract<LogSource, { records: unknown }>): string {
  const header = { format: 'iommu-model/1', ...(src.scheme === undefined ? {} : { scheme: src.scheme }), ...(src.kernel === undefined ? {} : { kernel: src.kernel }) };
  return [header, ...src.records].map((r) => recordText(r)).join('\n');
}

/** Feeds a log's header and items to `onHeader` and `onItem`, in order. */
export async function readSource(src: LogSource, onHeader: (h: Header, file: string) => void, onItem: (it: LogItem) => void): Promise<void> {
  // JavaScript callers get no type check: a source of another shape is bad input, not a TypeError
  if (typeof src !== 'object' || src === null || !('file' in src || 'text' in src || 'records' in src)) {
    throw new InputError('<replay>', null, 'source', `expected { file }, { text } or { records }, got ${showValue(src)}`);
  }
  if ('file' in src) return streamLog(src.file, (h) => onHeader(h, src.file), onItem);
  const file = src.name ?? ('text' in src ? '<text>' : '<records>');
  const { header, items } = parseLog('text' in src ? src.text : recordsText(src), file);
  onHeader(header, file);
  for (const it of items) onItem(it);
}

/**
 * Folds a log and checks every property after every record: what `iommu-model replay` reports
 * (exit 1 there is `divergences` or `violations` not empty here). Async: it may read a file.
 */
export async function replay(src: LogSource, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const override = await schemeOption(opts.scheme);
  const steps: Applied[] = [];
  const onApplied = opts.steps === true ? (a: Applied) => steps.push(a) : () => {};
  let r: Replay | undefined;
  await readSource(
    src,
    (h, file) => {
      r = tracedReplay(h, file, override, onApplied);
    },
    (it) => r!.push(it),
  );
  const report = r!.finish();
  return opts.steps === true ? { ...report, steps } : report;
}

/** A scenario: a built-in's name or a file (as `check --scenario`), or JSONL text. */
export type ScenarioSource = string | { readonly text: string; readonly name?: string };

export interface CheckOptions {
  /** Stop after generating this many states (then `exhausted` is false). Default 200000, as the CLI. */
  readonly maxStates?: number;
  /** Called every few thousand states generated. */
  readonly onProgress?: (p: { generated: number; distinct: number; depth: number }) => void;
}

/** A finding with its counterexample: a log that `replay` (with the same scheme) reproduces it from. */
export interface CheckFinding extends Finding {
  readonly counterexample: string;
}

export interface CheckResult extends Omit<ExploreReport, 'findings'> {
  /** The scenario's name: its file's without .jsonl (a built-in's own name), or the text's. */
  readonly scenario: string;
  /** Each violated property's first (shortest) finding. */
  readonly findings: readonly CheckFinding[];
  /** One verdict per property (holds, violated, n/a, unknown when cut off), with what the scheme documents. */
  readonly verdicts: readonly Verdict[];
}

/**
 * Explores every schedule of a scenario's tasks under a scheme (default 'upstream') and checks
 * every property: what `iommu-model check` reports. Async: it may read files.
 */
export async function check(scenario: ScenarioSource, scheme?: string | Scheme, opts: CheckOptions = {}): Promise<CheckResult> {
  const override = await schemeOption(scheme);
  const file = typeof scenario === 'string' ? scenarioFile(scenario) : (scenario.name ?? '<scenario>');
  const { header, items } = typeof scenario === 'string' ? await readLog(file) : parseLog(scenario.text, file);
  // the one rule of `iommu-model check`: the header's scheme unless one is given
  const s = schemeOfLog(header, file, override);
  const sc = scenarioOf(header, items, file);
  requireSetup(header, items, file, s);
  const report = explore(sc, s, { maxStates: opts.maxStates ?? DEMO_MAX_STATES, ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }) });
  const name = basename(file, '.jsonl');
  return {
    ...report,
    scenario: name,
    findings: report.findings.map((f) => ({ ...f, counterexample: `${counterexampleLines(sc, s, f).join('\n')}\n` })),
    verdicts: verdictsOf(name, header, s, report),
  };
}

export interface Explanation {
  /** The text the CLI prints for it: its line(s), then lockdep's chain and scenario. */
  readonly text: string;
  /** The lines under the first, alone (empty when the finding is not a lock finding). */
  readonly detail: readonly string[];
  readonly scenario?: LockScenario;
  readonly chain?: readonly ChainLink[];
}

/** A finding of `check` or a violation of `replay` (or apply) as the CLI shows it, lockdep-style. Pure. */
export function explain(f: Finding | Violation): Explanation {
  const lines = 'schedule' in f ? findingLines(f) : violationLines(f);
  return {
    text: `${lines.join('\n')}\n`,
    detail: detailLines(f),
    ...(f.scenario === undefined ? {} : { scenario: f.scenario }),
    ...(f.chain === undefined ? {} : { chain: f.chain }),
  };
}
