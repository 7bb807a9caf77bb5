/**
 * The records of the library API as a caller writes and reads them: a stimulus is a log record
 * (docs/log-format.md) as a plain object, typed from STIMULUS_SCHEMA so that the two cannot drift;
 * an outcome is spelled as a log's `expect` spells it. u64 fields take what the log takes (a hex or
 * decimal string, a safe integer) and a bigint too.
 */
import type { Outcome as KernelOutcome } from '../core/tx.js';
import { outcomeJson } from '../run/replay.js';
import { hex } from '../log/u64.js';
import type { JsonValue, KindTypes, OnError, ResvType, SchemaFields, STIMULUS_SCHEMA, StimulusOp } from '../vocab/records.js';

/** A u64 as a record may spell it: "0x1000", "4096", 4096 or 4096n. */
export type U64 = string | number | bigint;

/** A JSON value that may hold bigints (written as hex): an ioctl's `arg`. */
export type ArgValue = string | number | bigint | boolean | null | readonly ArgValue[] | { readonly [k: string]: ArgValue };

/** Each field kind as a log or a caller writes it (src/vocab/records.ts parses them). */
interface Written extends KindTypes {
  readonly u64: U64;
  readonly int: number;
  readonly string: string;
  readonly bool: boolean;
  readonly prot: ReadonlyArray<'READ' | 'WRITE'>;
  readonly bars: ReadonlyArray<{ readonly index: number; readonly phys: U64; readonly size: U64 }>;
  readonly range: readonly [U64, U64];
  readonly resv: ReadonlyArray<{ readonly start: U64; readonly end: U64; readonly type: ResvType }>;
  readonly any: ArgValue;
}

/** What a stimulus expects (docs/log-format.md, "Expectations and outcomes"), as the log spells it. */
export interface ExpectRecord {
  readonly ret?: U64;
  readonly errno?: string;
  readonly out?: { readonly [k: string]: ArgValue };
  readonly dma?: 'ok' | 'fault';
  readonly signal?: 'SIGBUS' | 'SIGSEGV';
}

/** The fields every stimulus may carry besides its own (but `seq`: the model numbers records). */
interface CommonFields {
  readonly expect?: ExpectRecord;
  readonly task?: string;
  readonly on_error?: OnError;
  readonly comment?: string;
}

/** One stimulus as a log record object, without `seq` (e.g. `{ op: 'open', pid: 1, path: '/dev/vfio/vfio' }`). */
export type StimulusRecord = {
  [O in StimulusOp]: { readonly op: O } & Readonly<SchemaFields<(typeof STIMULUS_SCHEMA)[O], Written>> & CommonFields;
}[StimulusOp];

/** What a stimulus's path returned, spelled as a log's `expect` (ret: a number up to 0xffff, else hex); `oops` when the kernel hit BUG_ON. */
export interface Outcome {
  readonly ret?: number | string;
  readonly errno?: string;
  readonly out?: { readonly [k: string]: JsonValue };
  readonly dma?: 'ok' | 'fault';
  readonly signal?: 'SIGBUS' | 'SIGSEGV';
  readonly oops?: string;
}

export function outcomeOf(o: KernelOutcome): Outcome {
  return outcomeJson(o) as Outcome;
}

/** A record as JSON text: bigints become hex strings, as the log writes u64s. */
export function recordText(rec: object): string {
  return JSON.stringify(rec, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v) : v));
}
