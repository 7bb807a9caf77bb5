/**
 * Locks as data (docs/concurrency.md); their classes and ids are src/vocab/locks.ts. Sleeping locks have holders in the world and block the task that cannot take them;
 * lockdep's pseudo-locks (`fs_reclaim`, `mmu_notifier_invalidate_range_start`) never block and
 * exist only for the dependency graph, as in the kernel.
 *
 * Steps take and release locks through these functions, which record every dependency edge
 * (each held class -> the class being acquired) in tx.touched.lockEdges; a trylock
 * (tryAcquire) records none and never waits.
 */
import { LOCKDEP_NAMES, LOCK_CLASSES, lockOf, type LockClass, type LockUse, type Mode } from '../vocab/locks.js';
import { ModelError } from '../vocab/errors.js';
import type { Tx } from './tx.js';
import type { LockState, Task, World } from './world.js';

export type { LockClass, LockUse, Mode };

const classOf = new Map<string, LockClass>();

export function lockClass(id: string): LockClass {
  let c = classOf.get(id);
  if (c === undefined) {
    c = id.split('#')[0] as LockClass;
    if (!(c in LOCK_CLASSES)) throw new ModelError(`unknown lock class in '${id}'`);
    classOf.set(id, c);
  }
  return c;
}

export function isPseudo(id: string): boolean {
  return LOCK_CLASSES[lockClass(id)] === 'pseudo';
}

function stateOf(w: World, id: string): LockState {
  let l = w.locks.get(id);
  if (l === undefined) {
    const kind = LOCK_CLASSES[lockClass(id)];
    if (kind === 'pseudo') throw new ModelError(`${id} is a lockdep map, not a lock`);
    l = { kind, writer: null, readers: [] };
    w.locks.set(id, l);
  }
  return l;
}

/** Whether `task` could take the lock now (a pseudo-lock always can). */
export function available(w: World, id: string, mode: Mode, task: string): boolean {
  if (isPseudo(id)) return true;
  const l = w.locks.get(id);
  if (l === undefined) return true;
  if (l.writer !== null) return false;
  if (mode === 'write') return l.readers.length === 0;
  // rwsem readers queue behind nothing in the model (no writer waiting-fairness)
  void task;
  return true;
}

/** The tasks holding a lock (for wait-for cycles). */
export function holders(w: World, id: string): string[] {
  const l = w.locks.get(id);
  if (l === undefined) return [];
  return l.writer !== null ? [l.writer] : [...l.readers];
}

/**
 * Records lockdep's dependency edges from everything `task` holds to the lock it takes. An edge
 * the caller's lock graph already has (tx.knownEdge) is not recorded again: LockGraph.add keeps
 * the first witness of an edge and ignores the rest, so skipping them changes no verdict and
 * no report, and saves building the edge (its chain and step) on every acquisition.
 */
function recordEdges(tx: Tx, task: Task, id: string, mode: Mode, where: string): void {
  const held = task.held;
  if (held.length === 0) return;
  const to = lockClass(id);
  const known = tx.knownEdge;
  let chain: string[] | undefined;
  let step: { path: string; state: string; op: string } | undefined;
  for (let i = 0; i < held.length; i += 1) {
    const from = lockClass(held[i]!.id);
    if (from === to || (known !== null && known(from, to))) continue;
    // each held class once, in the order first held, with the mode it was first held in
    let first = true;
    for (let j = 0; j < i && first; j += 1) if (lockClass(held[j]!.id) === from) first = false;
    if (!first) continue;
    chain ??= [...held.map((h) => lockClass(h.id)), to];
    const rp = task.current;
    if (step === undefined && rp !== null) step = { path: rp.path, state: rp.state, op: rp.stimulus.op };
    tx.touched.lockEdges.push({ from, to, task: task.name, where, chain: [...chain], fromMode: held[i]!.mode, toMode: mode, ...(step === undefined ? {} : { step }) });
  }
}

/**
 * Takes a lock the step's requirements said is available. A sleeping lock taken inside a
 * non-blockable invalidation is a NoBlockInNonBlockable violation (non_block_start()).
 */
export function acquire(tx: Tx, task: Task, id: string, mode: Mode, where: string): void {
  recordEdges(tx, task, id, mode, where);
  if (!isPseudo(id)) {
    if (task.nonBlock > 0) tx.touched.nonBlockSleeps.push(`${task.name} at ${where}: ${id} (${mode}) may sleep inside a non-blockable invalidation`);
    if (!available(tx.world, id, mode, task.name)) throw new ModelError(`${task.name} at ${where}: ${id} is not available; the step's requirements should have said so`);
    const l = stateOf(tx.world, id);
    if (mode === 'write') l.writer = task.name;
    else l.readers.push(task.name);
  }
  task.held.push({ id, mode });
}

/**
 * A trylock (mutex_trylock, device_trylock, down_write_trylock): takes the lock if `task` could
 * take it now and returns true; otherwise returns false at once, without waiting, and the caller
 * takes its fallback path. It never sleeps, so it is no NoBlockInNonBlockable violation.
 *
 * Lockdep, as kernel/locking/mutex.c and lockdep.c do it: a failed trylock records nothing
 * (mutex_trylock calls mutex_acquire only `if (locked)`); a successful one is pushed on the
 * held-lock stack but adds no dependency from the locks already held (validate_chain: "Trylock
 * needs to maintain the stack of held locks, but it does not add new dependencies", `if
 * (!hlock->trylock && hlock->check && ...)`). A lock taken later while it is held does depend on
 * it: check_prevs_add adds the new lock after "all consecutive trylock entries and the final
 * non-trylock entry", which acquire() below covers by recording an edge from every held class.
 */
export function tryAcquire(tx: Tx, task: Task, id: string, mode: Mode, where: string): boolean {
  if (isPseudo(id)) throw new ModelError(`${task.name} at ${where}: ${id} is a lockdep map; it cannot be trylocked`);
  if (!available(tx.world, id, mode, task.name)) return false;
  const l = stateOf(tx.world, id);
  if (mode === 'write') l.writer = task.name;
  else l.readers.push(task.name);
  task.held.push({ id, mode });
  return true;
}

export function release(tx: Tx, task: Task, id: string): void {
  let i = task.held.length - 1;
  while (i >= 0 && task.held[i]!.id !== id) i -= 1;
  if (i < 0) throw new ModelError(`${task.name} releases ${id}, which it does not hold`);
  const [h] = task.held.splice(i, 1);
  if (isPseudo(id)) return;
  const l = stateOf(tx.world, id);
  if (h!.mode === 'write') l.writer = null;
  else l.readers.splice(l.readers.indexOf(task.name), 1);
  if (l.writer === null && l.readers.length === 0) tx.world.locks.delete(id);
}

/** Takes a lock, runs `fn`, releases it: a lock held only within one atomic step. */
export function locked<T>(tx: Tx, task: Task, id: string, mode: Mode, where: string, fn: () => T): T {
  acquire(tx, task, id, mode, where);
  try {
    return fn();
  } finally {
    release(tx, task, id);
  }
}

/**
 * A GFP_KERNEL allocation: may enter direct reclaim, so lockdep sees fs_reclaim taken here.
 * mm/page_alloc.c:fs_reclaim_acquire: __fs_reclaim_acquire, then (CONFIG_MMU_NOTIFIER)
 * lock_map_acquire/lock_map_release of __mmu_notifier_invalidate_range_start_map, so every
 * such allocation records fs_reclaim -> mmu_notifier_invalidate_range_start.
 */
export function allocate(tx: Tx, task: Task, where: string): void {
  // GFP_KERNEL may sleep in reclaim: inside a non-blockable invalidation that WARNs too
  if (task.nonBlock > 0) tx.touched.nonBlockSleeps.push(`${task.name} at ${where}: a GFP_KERNEL allocation may sleep inside a non-blockable invalidation`);
  locked(tx, task, lockOf.fsReclaim, 'write', where, () => locked(tx, task, lockOf.invalidateRangeStart, 'write', `${where} (fs_reclaim_acquire)`, () => undefined));
}

/** Takes `locks` in the order given, runs `fn`, releases them in reverse. */
export function holding<T>(tx: Tx, task: Task, locks: readonly LockUse[], where: string, fn: () => T): T {
  for (const l of locks) acquire(tx, task, l.lock, l.mode, where);
  try {
    return fn();
  } finally {
    for (let i = locks.length - 1; i >= 0; i -= 1) release(tx, task, locks[i]!.lock);
  }
}

/** A lock as the kernel names it, with the model's instance: `&iommu->lock (iommu.lock#5)`. */
export function kernelName(id: string): string {
  return `${LOCKDEP_NAMES[lockClass(id)]} (${id})`;
}

/** The step a task is at, as the reports name it: `unmap_dma.callback (ioctl VFIO_IOMMU_UNMAP_DMA, seq 12)`. */
export function stepOf(task: Task | null): string {
  const rp = task?.current;
  if (rp == null) return 'outside any path';
  const s = rp.stimulus as { op: string; cmd?: string; seq: number };
  const what = `${s.op}${s.cmd === undefined ? '' : ` ${s.cmd}`}, seq ${s.seq}`;
  // a path in its final state is running its task_work (the deferred ____fput of a file)
  return rp.state === 'done' ? `${rp.path} task_work (____fput) (${what})` : `${rp.path}.${rp.state} (${what})`;
}

/**
 * lockdep_assert_held (mode 'any'), lockdep_assert_held_read and lockdep_assert_held_write:
 * `what` is about to change, and the kernel protects it with `lock`. If the running task does
 * not hold it (in that mode), the change is recorded for ProtectedByLock and the caller goes on,
 * as the kernel's assertion WARNs and goes on. Kernel code calls it where the kernel asserts or
 * documents the lock, citing the line.
 */
export function assertHeld(tx: Tx, lock: string, what: string, mode: Mode | 'any' = 'any'): void {
  const task = tx.task;
  const h = task?.held.find((x) => x.id === lock);
  if (h !== undefined && (mode === 'any' || h.mode === mode)) return;
  const how = mode === 'any' ? '' : ` for ${mode}`;
  const held = h === undefined ? '' : ` (it holds it for ${h.mode})`;
  const m = `${what} changed without ${kernelName(lock)} held${how}: task ${task?.name ?? '(none)'}${held} at ${stepOf(task)}`;
  if (!tx.touched.unprotected.includes(m)) tx.touched.unprotected.push(m);
}
