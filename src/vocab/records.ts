/**
 * Records of log format v1 (docs/log-format.md): the header, the stimuli and the derived records.
 *
 * Stimuli are a discriminated union on `op`, one member per kernel entry point (docs/log-format.md, Stimuli).
 * Their validated form holds u64 quantities as bigint. The schema table below is the one place
 * that says which fields each op has; the reader validates against it and the types are derived
 * from it, so the two cannot drift apart.
 */

import type { PropertyName } from './properties.js';
import type { ReleaseName } from './releases.js';

/** Field kinds of the schema. */
export type FieldKind =
  | 'u64'
  | 'int' // a non-negative safe integer (pids, fds, group numbers, PASIDs, counts)
  | 'string'
  | 'bool'
  | 'prot' // array of "READ" / "WRITE"
  | 'any' // validated by the op's own handler (ioctl arg)
  | 'bars'
  | 'range' // [u64, u64]
  | 'resv';

interface FieldSpec {
  readonly kind: FieldKind;
  readonly optional?: true;
}

export type Spec = Readonly<Record<string, FieldSpec>>;

const req = <K extends FieldKind>(kind: K): { readonly kind: K } => ({ kind });
const opt = <K extends FieldKind>(kind: K): { readonly kind: K; readonly optional: true } => ({ kind, optional: true });

/** Every op with its fields (docs/log-format.md, Stimuli). */
export const STIMULUS_SCHEMA = {
  // 1.2 host set-up
  'host.iommu': { pgsizes: opt('u64'), aperture: opt('range'), resv: opt('resv') },
  'host.device': {
    device: req('string'),
    group: req('int'),
    bars: opt('bars'),
    pasid_bits: opt('int'),
    pri: opt('bool'),
    noiommu: opt('bool'),
    hotplug: opt('bool'),
    sriov: opt('bool'),
    reset: opt('bool'),
  },
  'host.mdev': { device: req('string'), group: req('int'), parent: opt('string') },
  'process.spawn': {
    pid: req('int'),
    rlimit_memlock: opt('u64'),
    cap_ipc_lock: opt('bool'),
    cap_sys_rawio: opt('bool'),
  },
  // 1.3 userspace
  open: { pid: req('int'), path: req('string') },
  close: { pid: req('int'), fd: req('int') },
  ioctl: { pid: req('int'), fd: req('int'), cmd: req('string'), arg: opt('any'), argsz: opt('int') },
  mmap: {
    pid: req('int'),
    length: req('u64'),
    addr: opt('u64'),
    fd: opt('int'),
    offset: opt('u64'),
    prot: opt('prot'),
  },
  munmap: { pid: req('int'), addr: req('u64'), length: req('u64') },
  touch: { pid: req('int'), addr: req('u64'), write: opt('bool') },
  'pci.command': { pid: req('int'), fd: req('int'), memory: req('bool') },
  fork: { pid: req('int'), child: req('int') },
  sysfs: { pid: req('int'), device: req('string'), attr: req('string'), write: opt('bool') },
  exit: { pid: req('int') },
  // 1.3 devices, drivers, kernel
  'device.dma': {
    device: req('string'),
    iova: req('u64'),
    length: req('u64'),
    write: opt('bool'),
    pasid: opt('int'),
  },
  'device.page_request': { device: req('string'), pasid: req('int'), addr: req('u64'), write: opt('bool') },
  'device.stop_pasid': { device: req('string'), pasid: req('int') },
  'device.unbind': { device: req('string'), hot_remove: opt('bool') },
  'mm.reclaim': { pid: req('int'), addr: req('u64'), length: req('u64') },
  'mm.oom_reap': { pid: req('int') },
  'mdev.pin_pages': { device: req('string'), iova: req('u64'), npage: req('int'), prot: opt('prot') },
  'mdev.unpin_pages': { device: req('string'), iova: req('u64'), npage: req('int') },
  'mdev.dma_rw': { device: req('string'), iova: req('u64'), length: req('u64'), write: opt('bool') },
  'sva.bind': { device: req('string'), pid: req('int') },
  'sva.unbind': { device: req('string'), pid: req('int') },
  // 1.5 concurrency
  step: { task: req('string') },
} as const satisfies Record<string, Spec>;

/** Fields every stimulus may carry besides its own (docs/log-format.md, "Fields every stimulus may carry"). */
export const COMMON_FIELDS = ['op', 'seq', 'expect', 'task', 'on_error', 'comment'] as const;

/**
 * What a task does when this stimulus fails: `stop` (the default) takes the error
 * path, as kernel and driver code does on `if (ret) return ret;`; `continue` runs the task's
 * next record anyway (docs/concurrency.md).
 */
export const ON_ERROR = ['stop', 'continue'] as const;
export type OnError = (typeof ON_ERROR)[number];

export type StimulusOp = keyof typeof STIMULUS_SCHEMA;

/**
 * How each field kind is spelled in TypeScript: `Parsed` as the reader hands records on (bigint
 * u64s, Prot), src/api/records.ts as a log or an API caller writes them (hex strings or numbers).
 */
export type KindTypes = { readonly [K in FieldKind]: unknown };

interface Parsed extends KindTypes {
  readonly u64: bigint;
  readonly int: number;
  readonly string: string;
  readonly bool: boolean;
  readonly prot: Prot;
  readonly bars: BarSpec[];
  readonly range: readonly [bigint, bigint];
  readonly resv: ResvSpec[];
  readonly any: unknown;
}

/** The fields of one op's schema, each typed by `T`: the required ones, then the optional ones. */
export type SchemaFields<S extends Spec, T extends KindTypes> = {
  -readonly [F in keyof S as S[F] extends { optional: true } ? never : F]: T[S[F]['kind']];
} & {
  -readonly [F in keyof S as S[F] extends { optional: true } ? F : never]?: T[S[F]['kind']];
};

export interface Prot {
  readonly read: boolean;
  readonly write: boolean;
}

export interface BarSpec {
  readonly index: number;
  readonly phys: bigint;
  readonly size: bigint;
}

export type ResvType = 'msi' | 'sw_msi' | 'reserved' | 'direct';
export interface ResvSpec {
  readonly start: bigint;
  readonly end: bigint; // inclusive, as the kernel's iommu_resv_region start + length - 1
  readonly type: ResvType;
}

/** What a stimulus expects (docs/log-format.md, Expectations and outcomes). */
export interface Expect {
  readonly ret?: bigint;
  readonly errno?: string;
  readonly out?: Readonly<Record<string, unknown>>;
  readonly dma?: 'ok' | 'fault';
  readonly signal?: 'SIGBUS' | 'SIGSEGV';
}

interface StimulusBase {
  /** The record's sequence number: its `seq`, or its line number. */
  readonly seq: number;
  readonly line: number;
  readonly expect?: Expect;
  readonly task?: string;
  readonly on_error?: OnError;
  readonly comment?: string;
}

export type Stimulus = {
  [O in StimulusOp]: StimulusBase & { readonly op: O } & SchemaFields<(typeof STIMULUS_SCHEMA)[O], Parsed>;
}[StimulusOp];

export type StimulusOf<O extends StimulusOp> = Extract<Stimulus, { op: O }>;

/** The header (docs/log-format.md, The header). `description`: the one line that says what a log shows. */
export interface Header {
  readonly format: 'iommu-model/1';
  readonly scheme: string;
  /** The kernel release the log's rules follow (src/vocab/releases.ts); absent: the latest. */
  readonly kernel?: ReleaseName;
  readonly description?: string;
  /** Our extension: the properties this log is known to violate (golden logs; `demo`). */
  readonly violations?: readonly string[];
  /**
   * Our extension: the properties this scenario is meant to exercise (`demo` reports every other
   * property as not applicable). Absent: every property applies.
   */
  readonly exercises?: readonly PropertyName[];
}

/**
 * A derived record: something the engine computed as a consequence of a stimulus (docs/log-format.md, Derived records).
 * `cause` is the seq of the stimulus; `id` numbers the derived records of one stimulus from 1, and
 * `via` names the derived record (by id) that this one follows from, if not the stimulus itself.
 * The remaining fields depend on `op`. Derived records are plain JSON so that they compare and
 * serialise byte for byte.
 */
export interface Derived {
  readonly op: string;
  readonly cause: number;
  readonly id: number;
  readonly via?: number;
  readonly [field: string]: JsonValue | undefined;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };
