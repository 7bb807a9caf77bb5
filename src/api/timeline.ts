/**
 * The timeline as a library function (docs/api.md, docs/navigation.md): a log replayed once into
 * every state it passes through, then asked what the state was after a record, what changed
 * between two records, which records touch an address, a PASID, a device or a lock, and one
 * object's lifecycle. Nothing here prints or exits; bad arguments are InputError.
 */
import { Replay } from '../run/replay.js';
import { TimelineBuilder } from '../run/timeline.js';
import { diffRecords, follow, grep, parseQuery, positionOfSeq, type GrepHit, type ObjectChange, type Transition } from '../run/timeline-query.js';
import type { ObjectView } from '../run/timeline/objects.js';
import type { Scheme } from '../schemes/scheme.js';
import { readSource, schemeOption, type LogSource } from './run.js';

export interface TimelineOptions {
  /** A scheme instead of the header's: a built-in name, a scheme module's path, or a Scheme. */
  readonly scheme?: string | Scheme;
}

export interface LogTimeline {
  /** The records' seqs, in log order (then the steps of a scenario's default schedule). */
  readonly seqs: readonly number[];
  /** Every object after record `seq`, by id (`vfio_dma:5@0x0`, `device:0000:01:00.0`, ...). */
  at(seq: number): ReadonlyMap<string, ObjectView>;
  /** Object by object, what changed between the states after records `a` and `b`. */
  diff(a: number, b: number): ObjectChange[];
  /** `iova=0xc0000`, `vaddr=0x7f...`, `pasid=3`, `device=<bdf>`, `lock=memory_lock`; `@<seq>` for the state then. */
  grep(query: string): GrepHit[];
  /** One object's transitions, a record each. */
  follow(object: string): Transition[];
}

export async function timeline(src: LogSource, opts: TimelineOptions = {}): Promise<LogTimeline> {
  const override = await schemeOption(opts.scheme);
  const b = new TimelineBuilder();
  let r: Replay | undefined;
  await readSource(src, (h, file) => (r = new Replay(h, file, (st) => b.push(st, r!.world), override)), (it) => r!.push(it));
  r!.finish();
  const t = b.finish();
  return {
    seqs: t.records.map((x) => x.seq),
    at: (seq) => t.at(positionOfSeq(t, seq, 'seq')).objects,
    diff: (a, b2) => diffRecords(t, a, b2, 'diff'),
    grep: (q) => grep(t, parseQuery(q, 'query'), 'query'),
    follow: (o) => follow(t, o, 'object'),
  };
}

export type { GrepHit, ObjectChange, FieldChange, Transition } from '../run/timeline-query.js';
export type { ObjectView } from '../run/timeline/objects.js';
