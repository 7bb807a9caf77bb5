/**
 * Locks as data (docs/concurrency.md). A lock instance id is `<class>#<object>`, e.g.
 * `iommu.lock#5` (container 5's vfio_iommu->lock) or `mmap_lock#1`; the class is what lockdep
 * orders. Sleeping locks have holders in the world and block the task that cannot take them;
 * lockdep's pseudo-locks (`fs_reclaim`, `mmu_notifier_invalidate_range_start`) never block and
 * exist only for the dependency graph, as in the kernel.
 *
 * Steps take and release locks through these functions, which record every dependency edge
 * (each held class -> the class being acquired) in tx.touched.lockEdges.
 */
import { ModelError, type Tx } from './tx.js';
import type { LockState, Task, World } from './world.js';

/** The kernel's lock classes the model knows, with their kind. */
export const LOCK_CLASSES = {
  /** drivers/vfio/vfio_iommu_type1.c: struct vfio_iommu.lock */
  'iommu.lock': 'mutex',
  /** vfio_iommu.device_list_lock, held across the mdev dma_unmap callbacks */
  'device_list_lock': 'mutex',
  /** mm->mmap_lock */
  mmap_lock: 'rwsem',
  /** drivers/vfio/pci: vfio_pci_core_device.memory_lock */
  memory_lock: 'rwsem',
  /** drivers/vfio/container.c: vfio_container.group_lock */
  'container.group_lock': 'rwsem',
  /** drivers/vfio/group.c: vfio_group.group_lock */
  'group.group_lock': 'mutex',
  /** drivers/vfio/vfio_main.c: vfio_device_set.lock */
  'dev_set.lock': 'mutex',
  /** drivers/iommu/iommu-sva.c: iommu_sva_lock */
  iommu_sva_lock: 'mutex',
  /** struct device's mutex (device_lock), held by the driver core around probe/remove */
  device_lock: 'mutex',
  /** the interval-notifier driver's update lock (Documentation/mm/hmm.rst: driver->update) */
  update_lock: 'mutex',
  /** a dma-buf's reservation lock (dma_resv_lock), taken by vfio_pci_dma_buf_move */
  dma_resv: 'mutex',
  /** drivers/pci/hotplug: struct controller.reset_lock (pciehp_ist reads, pciehp_reset_slot writes) */
  reset_lock: 'rwsem',
  /** drivers/pci/remove.c: pci_lock_rescan_remove() */
  pci_rescan_remove_lock: 'mutex',
  /** lockdep map: any allocation that may enter direct reclaim (GFP_KERNEL) */
  fs_reclaim: 'pseudo',
  /** lockdep map held across every invalidate_range_start/end (mm/mmu_notifier.c) */
  mmu_notifier_invalidate_range_start: 'pseudo',
} as const;

export type LockClass = keyof typeof LOCK_CLASSES;
export type Mode = 'read' | 'write';

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

/** Records lockdep's dependency edges from everything `task` holds to the lock it takes. */
function recordEdges(tx: Tx, task: Task, id: string, where: string): void {
  const to = lockClass(id);
  const chain = task.held.map((h) => lockClass(h.id));
  for (const from of new Set(chain)) {
    if (from !== to) tx.touched.lockEdges.push({ from, to, task: task.name, where, chain: [...chain, to] });
  }
}

/**
 * Takes a lock the step's requirements said is available. A sleeping lock taken inside a
 * non-blockable invalidation is a NoBlockInNonBlockable violation (non_block_start()).
 */
export function acquire(tx: Tx, task: Task, id: string, mode: Mode, where: string): void {
  recordEdges(tx, task, id, where);
  if (!isPseudo(id)) {
    if (task.nonBlock > 0) tx.touched.nonBlockSleeps.push(`${task.name} at ${where}: ${id} (${mode}) may sleep inside a non-blockable invalidation`);
    if (!available(tx.world, id, mode, task.name)) throw new ModelError(`${task.name} at ${where}: ${id} is not available; the step's requirements should have said so`);
    const l = stateOf(tx.world, id);
    if (mode === 'write') l.writer = task.name;
    else l.readers.push(task.name);
  }
  task.held.push({ id, mode });
}

export function release(tx: Tx, task: Task, id: string): void {
  const i = task.held.map((h) => h.id).lastIndexOf(id);
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

/** A GFP_KERNEL allocation: may enter direct reclaim, so lockdep sees fs_reclaim taken here. */
export function allocate(tx: Tx, task: Task, where: string): void {
  // GFP_KERNEL may sleep in reclaim: inside a non-blockable invalidation that WARNs too
  if (task.nonBlock > 0) tx.touched.nonBlockSleeps.push(`${task.name} at ${where}: a GFP_KERNEL allocation may sleep inside a non-blockable invalidation`);
  locked(tx, task, 'fs_reclaim', 'write', where, () => undefined);
}

/** Takes `locks` in the order given, runs `fn`, releases them in reverse. */
export function holding<T>(tx: Tx, task: Task, locks: ReadonlyArray<{ lock: string; mode: Mode }>, where: string, fn: () => T): T {
  for (const l of locks) acquire(tx, task, l.lock, l.mode, where);
  try {
    return fn();
  } finally {
    for (const l of [...locks].reverse()) release(tx, task, l.lock);
  }
}
