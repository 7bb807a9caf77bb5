/**
 * One stimulus being applied: the world it changes, the derived records it emits, the machine
 * events it fires, and what the checks will need to look at afterwards.
 *
 * Kernel rules call `tx.fail(errno, check)` to return an error: it throws a KernelReturn that
 * applyStimulus turns into the outcome. Rules check before they change anything (the kernel's
 * own shape), and unwind explicitly where the kernel does (a failed MAP_DMA removes its dma).
 */
import type { Errno } from '../vocab/errno.js';
import type { Derived, JsonValue, StimulusOf, StimulusOp } from '../vocab/records.js';
import type { MachineWithActions, ObjectAction, ObjectEvent, ObjectMachineName } from '../../machines/index.js';
import type { Scheme } from '../schemes/scheme.js';
import { policyOf, type Policy } from '../schemes/policies/index.js';
import { ModelError } from '../vocab/errors.js';
import { step } from './stepper.js';
import type { LockUse, Mode } from '../vocab/locks.js';
import type { Container, Device, FileKind, Mm, OpenFile, Process, Subscriber, Task, Vma, World } from './world.js';
import type { Prot } from '../vocab/records.js';
import type { KernelRelease } from '../vocab/releases.js';

/** The result of a stimulus, as its `expect` is compared with it. */
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
  /** Lock dependency edges taken by this step (src/core/locks.ts), less those Tx.knownEdge knows. */
  readonly lockEdges: LockEdge[];
  /** Sleeping locks taken inside a non-blockable invalidation. */
  readonly nonBlockSleeps: string[];
  /** Changes made without the lock that protects them (assertHeld in src/core/locks.ts). */
  readonly unprotected: string[];
  /** Objects a path used after another path freed them (src/core/lifetimes.ts). */
  readonly useAfterFree: string[];
}

/** Whether a lock graph already has the class edge `from` -> `to`. */
export type KnownEdge = (from: string, to: string) => boolean;

/** A lockdep dependency: `to` was acquired while `from` was held, by `task` at `where`. */
export interface LockEdge {
  readonly from: string;
  readonly to: string;
  readonly task: string;
  readonly where: string;
  /** The classes held at that moment, in order, ending with `to`. */
  readonly chain: readonly string[];
  /** How `from` was held and `to` taken (lockdep's scenario prints rlock() for a read). */
  readonly fromMode?: Mode;
  readonly toMode?: Mode;
  /** The path step that took `to` (a report names the kernel function the step mirrors). */
  readonly step?: { readonly path: string; readonly state: string; readonly op: string };
}

export class Tx {
  /**
   * The derived records emitted, kept as their parts and built into records only when read
   * (`derived`): a replay with no recording and no recorded derived records to compare never
   * reads them, and building 3 records a stimulus cost it about 10%.
   */
  private readonly emittedOps: string[] = [];
  private readonly vias: Array<number | undefined> = [];
  private readonly fieldsOf: Array<Record<string, JsonValue>> = [];
  private built: Derived[] | null = null;
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
    unprotected: [],
    useAfterFree: [],
  };
  private via: number | undefined = undefined;
  /** The task running this step (fput defers releases to it). */
  task: Task | null = null;
  /**
   * Lock-class edges the caller's lock graph already has (src/checks/lockdep.ts LockGraph.has):
   * acquisitions record only edges new to it (src/core/locks.ts recordEdges). null: every edge.
   */
  knownEdge: KnownEdge | null = null;

  constructor(
    readonly world: World,
    readonly scheme: Scheme,
    readonly cause: number,
    /** The machine actions and the kernel's indirect calls (src/kernel/tables.ts). */
    readonly kernel: KernelTables,
    /** The kernel release the log models: version-dependent rules ask `release.has(rule)`. */
    readonly release: KernelRelease,
  ) {}

  /** What the scheme's choices mean at each policy point (src/schemes/policies/). */
  get policy(): Policy {
    return policyOf(this.scheme);
  }

  /** The kernel's indirect calls: f_op, vm_ops, mmu_notifier_ops, vfio_device_ops. */
  get ops(): KernelOps {
    return this.kernel.ops;
  }

  /** Returns an errno from the current kernel call. */
  fail(errno: Errno, check: string): never {
    throw new KernelReturn(errno, check);
  }

  /**
   * Records a derived record; returns its id. Every caller passes a fresh object literal, which
   * nothing changes afterwards, so building the record later gives the record built now.
   */
  emit(op: string, fields: Record<string, JsonValue> = {}): number {
    this.emittedOps.push(op);
    this.vias.push(this.via);
    this.fieldsOf.push(fields);
    return this.emittedOps.length;
  }

  /** How many derived records were emitted. */
  get emitted(): number {
    return this.emittedOps.length;
  }

  /** The derived records emitted, in order: `{op, cause, id, via?, ...fields}`. */
  get derived(): readonly Derived[] {
    if (this.built !== null && this.built.length === this.emittedOps.length) return this.built;
    const out: Derived[] = [];
    for (let i = 0; i < this.emittedOps.length; i += 1) {
      const rec: Record<string, JsonValue | undefined> = { op: this.emittedOps[i], cause: this.cause, id: i + 1 };
      if (this.vias[i] !== undefined) rec['via'] = this.vias[i];
      Object.assign(rec, this.fieldsOf[i]);
      out.push(rec as Derived);
    }
    this.built = out;
    return out;
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
   * then runs the actions the transition names, from the action table (src/kernel/actions.ts).
   */
  fire<M extends ObjectMachineName>(machine: M, object: string, holder: { state: string }, event: ObjectEvent<M>): void {
    const r = step(machine, holder.state, { type: event });
    if (!r.accepted) {
      throw new ModelError(`${machine} ${object}: event ${event} is not legal in state '${holder.state}'`);
    }
    if (r.value !== holder.state) {
      this.emit('state', { object: `${machine}:${object}`, from: holder.state, to: r.value, event });
      holder.state = r.value;
    }
    if (r.actions.length === 0) return;
    const handlers = (this.kernel.actions as Record<string, Record<string, ActionHandler> | undefined>)[machine];
    for (const a of r.actions) {
      const h = handlers?.[a];
      if (h === undefined) throw new ModelError(`no handler for action ${machine}.${a}`);
      h(this, object);
    }
  }

  /** Runs an entry point: its outcome, or the outcome its errno or BUG_ON gives. */
  outcomeOf(fn: () => Outcome): Outcome {
    const r = this.attempt(fn);
    return 'value' in r ? r.value : r.outcome;
  }

  /**
   * Calls a kernel function the way its caller does `if (ret) return ret;`: its value, or the
   * outcome its errno gives (a BUG_ON is recorded as KernelBug and its task's call ends there).
   */
  attempt<T>(fn: () => T): { readonly value: T } | { readonly outcome: Outcome } {
    try {
      return { value: fn() };
    } catch (e) {
      if (e instanceof KernelReturn) return { outcome: { errno: e.errno, decidedBy: e.check } };
      if (e instanceof KernelOops) {
        this.kernelBug(e.check);
        return { outcome: { oops: e.check, decidedBy: e.check } };
      }
      throw e;
    }
  }

  /** A kernel BUG_ON/WARN condition the model reached (property KernelBug). */
  kernelBug(check: string): void {
    this.touched.kernelBugs.push(check);
    this.emit('kernel.bug', { check });
  }
}

/** A machine action's effect on the world; `object` is the key the event was fired with. */
export type ActionHandler = (tx: Tx, object: string) => void;

/** What each machine action does, for every machine whose transitions run actions. */
export type ActionTable = { readonly [M in MachineWithActions]: { readonly [A in ObjectAction<M>]: ActionHandler } };

/** A file's operations as fs/file_table.c:__fput calls them. */
export interface FileOps {
  /** The locks file->f_op->release takes, in the kernel's order (its task waits for them). */
  releaseLocks(w: World, f: OpenFile, policy: Policy): LockUse[];
  /** file->f_op->release, run from ____fput. */
  release(tx: Tx, f: OpenFile): void;
}

/**
 * The kernel's indirect calls, through which one subsystem calls another without depending on
 * it (the kernel's own ops tables): the model's layers keep the same shape, so that mm/ never
 * imports vfio/ and fs/ never imports a driver.
 */
export interface KernelOps {
  /** file->f_op by file kind (a tty's release does nothing the model sees). */
  readonly file: { readonly [K in Exclude<FileKind, 'tty'>]: FileOps };
  /** f_op->mmap of a vfio device file: vfio_pci_core_mmap; returns the new vma. */
  mmapDevice(tx: Tx, d: Device, file: number, addr: bigint, length: bigint, offset: bigint, prot: Prot): Vma;
  /** vma->vm_ops->fault of a BAR vma: vfio_pci_mmap_huge_fault; whether the vma is populated. */
  faultBar(tx: Tx, p: Process, v: Vma, addr?: bigint): boolean;
  /** mmu_notifier_release's call to the SVA bonds of an exiting mm (ops->release). */
  releaseSva(tx: Tx, mm: Mm): void;
  /** vfio_device_ops->dma_unmap of a mediated device's vendor driver. */
  dmaUnmap(tx: Tx, c: Container, d: Device, iova: bigint, size: bigint): void;
  /** Each kind of MMU-notifier subscriber's ops (mmu_notifier_ops, mmu_interval_notifier_ops). */
  readonly notifier: { readonly [K in Subscriber['kind']]: NotifierOps<Extract<Subscriber, { kind: K }>> };
}

/** A notifier subscriber's invalidate callback, and the locks it takes (its task waits for them). */
export interface NotifierOps<S extends Subscriber> {
  locks(w: World, policy: Policy, sub: S, task: Task | undefined): LockUse[];
  /** `false`: the callback failed (a non-blockable trylock that missed: the core's -EAGAIN). */
  invalidate(tx: Tx, task: Task, sub: S, mm: number, start: bigint, end: bigint, where: string): boolean | void;
}

/** What the engine hands every Tx: the action table and the ops tables. */
export interface KernelTables {
  readonly actions: ActionTable;
  readonly ops: KernelOps;
}

/** A kernel entry point: what the kernel does for one stimulus; errors are thrown by tx.fail. */
export type Rule<O extends StimulusOp> = (tx: Tx, s: StimulusOf<O>) => Outcome;
