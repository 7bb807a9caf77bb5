/**
 * The kernel engine: runs stimuli as kernel paths (src/paths/), one atomic step at a
 * time. A stimulus without a task runs its path to completion at once; a stimulus with a task
 * joins that task's queue and advances only when the task is stepped (docs/concurrency.md). A task whose
 * stimulus fails takes its error path: its queued stimuli are dropped and it ends.
 */
import type { Derived, Stimulus } from '../vocab/records.js';
import type { Scheme } from '../schemes/scheme.js';
import type { KernelRelease } from '../vocab/releases.js';
import { available, holders, holding } from '../core/locks.js';
import { PATHS, pathNameFor, type PathName } from '../paths/index.js';
import type { PathDef, Requirement, Running } from '../paths/types.js';
import { releaseFile, releaseLocks } from '../kernel/fs/file.js';
import { KERNEL } from '../kernel/tables.js';
import { policyOf } from '../schemes/policies/index.js';
import { initialState, isFinal, step } from '../core/stepper.js';
import { Tx, type KnownEdge, type Outcome, type Touched } from '../core/tx.js';
import type { RunningPath, Task, World } from '../core/world.js';
import { BadReference, ModelError, showValue } from '../vocab/errors.js';
import type { Scheduler } from '../checks/liveness.js';

function pathDef(name: string): PathDef {
  return PATHS[name as PathName];
}

/** The running path as its steps see it (each path types its own locals). */
const running = (rp: RunningPath): Running<{ outcome?: Outcome }, Stimulus['op']> => rp as unknown as Running<{ outcome?: Outcome }, Stimulus['op']>;

export interface Applied extends Emitted {
  readonly outcome: Outcome;
  readonly touched: Touched;
}

/** The derived records of a stimulus or step: built when `derived` is read (src/core/tx.ts). */
export interface Emitted {
  readonly derived: readonly Derived[];
  /** How many there are, without building them. */
  readonly emitted: number;
}

/**
 * A stimulus's or step's result, whose derived records are built when read. A class (its
 * getter on the prototype): an object literal with a getter cost the replay 35% (a closure
 * and an accessor per record). A spread of it has no `derived`: read the fields.
 */
class Result implements Emitted {
  readonly touched: Touched;
  readonly emitted: number;
  constructor(private readonly tx: Tx) {
    this.touched = tx.touched;
    this.emitted = tx.emitted;
  }

  get derived(): readonly Derived[] {
    return this.tx.derived;
  }
}

class StepResult extends Result implements Stepped {
  constructor(tx: Tx, readonly finished: Stepped['finished']) {
    super(tx);
  }
}

class AppliedResult extends Result implements Applied {
  constructor(tx: Tx, readonly outcome: Outcome) {
    super(tx);
  }
}

/** Starts the next stimulus of a task if it has no path in flight. */
function current(task: Task): RunningPath | null {
  if (task.current !== null) return task.current;
  const s = task.queue[0];
  if (s === undefined) return null;
  const path = pathNameFor(s);
  return { stimulus: s, path, state: initialState(pathDef(path).machine), ctx: {} };
}

/** What the task's next step needs (its next stimulus's first step if none is in flight). */
export function requirements(w: World, scheme: Scheme, task: Task): Requirement[] {
  const rp = current(task);
  if (rp === null) return [];
  // task_work after the path returned: the next deferred file release and the locks it takes
  const pendingRelease = task.deferred[0];
  if (pendingRelease !== undefined && isFinal(pathDef(rp.path).machine, rp.state)) return releaseLocks(w, KERNEL.ops, pendingRelease, policyOf(scheme));
  return pathDef(rp.path).steps[rp.state]?.requires?.(w, task, running(rp), policyOf(scheme)) ?? [];
}

/** The first requirement the task's next step lacks, or null when it can run. */
export function blockedOn(w: World, scheme: Scheme, task: Task): Requirement | null {
  for (const r of requirements(w, scheme, task)) {
    if ('lock' in r ? !available(w, r.lock, r.mode, task.name) : !r.ready) return r;
  }
  return null;
}

export function hasWork(task: Task): boolean {
  return task.current !== null || task.queue.length > 0;
}

export function describeBlock(w: World, r: Requirement): string {
  if ('lock' in r) return `${r.lock} (${r.mode}), held by ${holders(w, r.lock).join(', ') || 'nobody'}`;
  return r.wait;
}

export interface Stepped extends Emitted {
  readonly touched: Touched;
  /** The stimulus whose path returned with this step, and its outcome. */
  readonly finished: { readonly stimulus: Stimulus; readonly outcome: Outcome } | null;
}

/** Runs one atomic step of a task; the caller has checked that it is not blocked. */
function runOneStep(tx: Tx, scheme: Scheme, task: Task): { stimulus: Stimulus; outcome: Outcome } | null {
  let rp = task.current;
  if (rp === null) {
    rp = current(task)!;
    task.queue.shift();
    task.current = rp;
    // a task of its own for a stimulus without one ('@seq') is an implementation detail
    if (rp.stimulus.task !== undefined) tx.emit('task.started', { task: task.name, seq: rp.stimulus.seq, stimulus: rp.stimulus.op, path: rp.path });
  }
  const def = pathDef(rp.path);
  const machine = def.machine;
  tx.task = task;
  if (isFinal(machine, rp.state)) {
    // task_work: one deferred file release (fs/file_table.c ____fput) under the locks it takes
    const id = task.deferred.shift()!;
    holding(tx, task, releaseLocks(tx.world, KERNEL.ops, id, policyOf(scheme)), 'task_work (____fput)', () => releaseFile(tx, id));
  } else {
    const st = def.steps[rp.state];
    if (st === undefined) throw new ModelError(`path ${rp.path} has no step for state '${rp.state}'`);
    const event = st.run(tx, task, running(rp));
    const r = step(machine, rp.state, { type: event });
    if (!r.accepted) throw new ModelError(`path ${rp.path}: event ${event} is not legal in state '${rp.state}'`);
    rp.state = r.value;
    if (!isFinal(machine, rp.state)) return null;
  }
  if (task.deferred.length > 0) return null;
  task.current = null;
  if (task.held.length > 0) throw new ModelError(`${task.name} returned from ${rp.path} holding ${task.held.map((h) => h.id).join(', ')}`);
  const outcome = running(rp).ctx.outcome;
  if (outcome === undefined) throw new ModelError(`path ${rp.path} returned without an outcome`);
  return { stimulus: rp.stimulus, outcome };
}

/**
 * Why a returned stimulus ends its task (docs/concurrency.md, "A task takes its error path"), or null when the task goes on. An errno is
 * the caller's `if (ret) return ret;` unless the record says `"on_error": "continue"`; an oops
 * kills the task whatever the record says (oops_end -> make_task_dead). A `dma: fault`, a
 * signal or a page response is not an error return (docs/concurrency.md).
 */
function errorPathOf(s: Stimulus, o: Outcome): string | null {
  if (o.oops !== undefined) return `oops: ${o.oops}`;
  if (o.errno !== undefined && s.on_error !== 'continue') return o.errno;
  return null;
}

/** The task takes its error path: its queued stimuli never run, and the task ends. */
function takeErrorPath(tx: Tx, task: Task, failed: { stimulus: Stimulus; outcome: Outcome }): void {
  const why = errorPathOf(failed.stimulus, failed.outcome);
  if (why === null || task.queue.length === 0) return;
  const skipped = task.queue.map((s) => s.seq);
  task.queue = [];
  task.stopped = { seq: failed.stimulus.seq, why };
  const oops = failed.outcome.oops;
  tx.emit('task.error_path', { task: task.name, seq: failed.stimulus.seq, ...(oops !== undefined ? { oops } : { errno: why }), skipped });
}

/**
 * One atomic step of task `name`, with `cause` the seq of the record that asked for it.
 * `knownEdge`: the lock edges the caller has seen already, which the step does not record again.
 */
export function stepTask(world: World, scheme: Scheme, name: string, cause: number, release: KernelRelease, knownEdge: KnownEdge | null = null): Stepped {
  const task = world.tasks.get(name);
  if (task === undefined || !hasWork(task)) throw new BadReference('task', `task ${showValue(name)} has nothing to run${task?.stopped === undefined ? '' : ` (it took its error path: record ${task.stopped.seq} failed with ${task.stopped.why})`}`);
  const b = blockedOn(world, scheme, task);
  if (b !== null) throw new BadReference('task', `task ${showValue(name)} is blocked on ${describeBlock(world, b)}`);
  const tx = new Tx(world, scheme, cause, KERNEL, release);
  tx.knownEdge = knownEdge;
  const finished = runOneStep(tx, scheme, task);
  if (finished !== null) {
    tx.emit('task.returned', { task: name, seq: finished.stimulus.seq });
    takeErrorPath(tx, task, finished);
  }
  return new StepResult(tx, finished);
}

/** Queues a stimulus on its task (creating the task). */
export function addToTask(world: World, s: Stimulus): void {
  const name = s.task!;
  let task = world.tasks.get(name);
  if (task === undefined) {
    task = { name, queue: [], current: null, held: [], nonBlock: 0, deferred: [] };
    world.tasks.set(name, task);
  }
  task.queue.push(s);
}

/**
 * Applies a stimulus without a task: its path runs to completion now. If a step would block (a
 * lock held by a task in flight), the log is bad input: such a stimulus needs a task.
 * `knownEdge` as for stepTask.
 */
export function applyStimulus(world: World, scheme: Scheme, s: Stimulus, release: KernelRelease, knownEdge: KnownEdge | null = null): Applied {
  if (s.op === 'step') throw new BadReference('op', 'step records are handled by the replay');
  if (s.task !== undefined) throw new BadReference('task', 'a stimulus with a task runs when its task is stepped');
  const name = `@${s.seq}`;
  const task: Task = { name, queue: [s], current: null, held: [], nonBlock: 0, deferred: [] };
  world.tasks.set(name, task);
  const tx = new Tx(world, scheme, s.seq, KERNEL, release);
  tx.knownEdge = knownEdge;
  try {
    for (;;) {
      const b = blockedOn(world, scheme, task);
      if (b !== null) throw new BadReference('op', `this stimulus would block on ${describeBlock(world, b)}; give it a "task" so that it can wait`);
      const finished = runOneStep(tx, scheme, task);
      if (finished !== null) return new AppliedResult(tx, finished.outcome);
    }
  } finally {
    world.tasks.delete(name);
  }
}

/** The engine's answers for the liveness checks (src/checks/liveness.ts), bound to a scheme. */
export function scheduler(scheme: Scheme): Scheduler {
  return { hasWork, blockedOn: (w, t) => blockedOn(w, scheme, t), describeBlock };
}
