/**
 * One stimulus being applied: the world it changes, the derived records it emits, the machine
 * events it fires, and what the checks will need to look at afterwards.
 *
 * Kernel rules call `tx.fail(errno, check)` to return an error: it throws a KernelReturn that
 * applyStimulus turns into the outcome. Rules check before they change anything (the kernel's
 * own shape), and unwind explicitly where the kernel does (a failed MAP_DMA removes its dma).
 */
import type { Errno } from '../vocab/errno.js';
import type { Derived, JsonValue } from '../vocab/records.js';
import type { MachineName } from '../../machines/index.js';
import type { Scheme } from '../schemes/scheme.js';
import { ModelError } from '../vocab/errors.js';
import { step } from './stepper.js';
import type { World } from './world.js';

/** The result of a stimulus, as SPEC 1.4 compares it. */
export interface Outcome {
  ret?: bigint;
  errno?: Errno;
  out?: Record<string, JsonValue>;
  dma?: 'ok' | 'fault';
  signal?: 'SIGBUS' | 'SIGSEGV';
  /** The kernel hit BUG_ON: the calling task was killed, the call never returned. */
  oops?: string;
  /** The kernel check (file:function: condition) that decided the outcome. */
  decidedBy: string;
}

/** An error return from a kernel rule: the errno and the check that produced it. */
export class KernelReturn {
  constructor(
    readonly errno: Errno,
    readonly check: string,
  ) {}
}

/** A kernel BUG_ON: the task oopses. Reported as the KernelBug property. */
export class KernelOops {
  constructor(readonly check: string) {}
}

/** Where a device DMA landed, for the checks to judge (src/checks/properties.ts). */
export type DmaLanding =
  | { readonly kind: 'ram'; readonly phys: bigint; readonly size: bigint; readonly dma: number; readonly pinned: boolean }
  | {
      readonly kind: 'mmio';
      readonly phys: bigint;
      readonly size: bigint;
      readonly dma: number;
      readonly device: string;
      readonly bar: number;
      /** Memory decode of the target BAR's device is on. */
      readonly decodeOn: boolean;
      /** The target device is still registered (not unbound/removed). */
      readonly present: boolean;
      /** The process that made the mapping still holds the target device open. */
      readonly ownerHoldsOpen: boolean;
    }
  | { readonly kind: 'raw'; readonly phys: bigint; readonly size: bigint; readonly device: string }
  | { readonly kind: 'sva'; readonly phys: bigint; readonly size: bigint; readonly pasid: number; readonly mm: number };

/** What this stimulus changed, so that checks cost O(what changed). */
export interface Touched {
  readonly containers: Set<number>;
  /** vfio_dma linked by this stimulus, with their container. */
  readonly dmas: Array<{ container: number; iova: bigint; dma: number }>;
  /** vfio_dma whose pins (extents, pfn_list), owner mm or container domain changed. */
  readonly pinChanges: Array<{ container: number; iova: bigint; dma: number }>;
  /** IOMMU PTEs created by this stimulus. */
  readonly ptes: Array<{ container: number; iova: bigint; size: bigint }>;
  readonly mms: Set<number>;
  readonly landings: DmaLanding[];
  /** PASIDs handed out, with who could still use the PASID at that moment. */
  readonly pasidAllocations: Array<{ pasid: number; mm: number; stillUsedBy: string[] }>;
  /** A process exited or a device went away: the world may now be torn down. */
  teardown: boolean;
  kernelBugs: string[];
  /** Lock dependency edges taken by this step (src/core/locks.ts). */
  readonly lockEdges: LockEdge[];
  /** Sleeping locks taken inside a non-blockable invalidation. */
  readonly nonBlockSleeps: string[];
}

/** A lockdep dependency: `to` was acquired while `from` was held, by `task` at `where`. */
export interface LockEdge {
  readonly from: string;
  readonly to: string;
  readonly task: string;
  readonly where: string;
  /** The classes held at that moment, in order, ending with `to`. */
  readonly chain: readonly string[];
}

export class Tx {
  readonly derived: Derived[] = [];
  readonly touched: Touched = {
    containers: new Set(),
    dmas: [],
    pinChanges: [],
    ptes: [],
    mms: new Set(),
    landings: [],
    pasidAllocations: [],
    teardown: false,
    kernelBugs: [],
    lockEdges: [],
    nonBlockSleeps: [],
  };
  private via: number | undefined = undefined;
  /** The task running this step (fput defers releases to it). */
  task: import('./world.js').Task | null = null;

  constructor(
    readonly world: World,
    readonly scheme: Scheme,
    readonly cause: number,
  ) {}

  /** Returns an errno from the current kernel call. */
  fail(errno: Errno, check: string): never {
    throw new KernelReturn(errno, check);
  }

  /** Records a derived record; returns its id. */
  emit(op: string, fields: Record<string, JsonValue> = {}): number {
    const id = this.derived.length + 1;
    const rec: Record<string, JsonValue | undefined> = { op, cause: this.cause, id };
    if (this.via !== undefined) rec['via'] = this.via;
    Object.assign(rec, fields);
    this.derived.push(rec as Derived);
    return id;
  }

  /** Runs `fn` with every record it emits following from derived record `id`. */
  within<T>(id: number, fn: () => T): T {
    const saved = this.via;
    this.via = id;
    try {
      return fn();
    } finally {
      this.via = saved;
    }
  }

  /** Emits a record and runs `fn` as its consequences. */
  cascade<T>(op: string, fields: Record<string, JsonValue>, fn: () => T): T {
    return this.within(this.emit(op, fields), fn);
  }

  /**
   * Fires a machine event on an object: checks the machine accepts it, records the state change,
   * and returns the actions the transition asks for (the caller's engine interprets them).
   */
  fire(machine: MachineName, object: string, holder: { state: string }, event: string): readonly string[] {
    const r = step(machine, holder.state, { type: event });
    if (!r.accepted) {
      throw new ModelError(`${machine} ${object}: event ${event} is not legal in state '${holder.state}'`);
    }
    if (r.value !== holder.state) {
      this.emit('state', { object: `${machine}:${object}`, from: holder.state, to: r.value, event });
      holder.state = r.value;
    }
    return r.actions;
  }

  /** A kernel BUG_ON/WARN condition the model reached (property KernelBug). */
  kernelBug(check: string): void {
    this.touched.kernelBugs.push(check);
    this.emit('kernel.bug', { check });
  }
}
