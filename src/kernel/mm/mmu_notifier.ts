/**
 * MMU-notifier invalidation as steps (mm/mmu_notifier.c, include/linux/mmu_notifier.h): the
 * caller holds the lockdep map `mmu_notifier_invalidate_range_start` from
 * invalidate_range_start to invalidate_range_end, and each subscriber's callback is one step,
 * because a callback may block (a type1 notifier that takes iommu->lock).
 *
 * Subscribers: SVA bonds (the IOMMU flushes the device TLB for the PASID:
 * arm_smmu_mm_arch_invalidate_secondary_tlbs, intel_invalidate_range: no sleeping lock) and,
 * under schemes with `type1Notifier`, type1's notifier, whose callback unmaps and unpins the
 * dmas whose user range is invalidated.
 */
import { hex, U64_MAX } from '../../log/u64.js';
import type { Policy } from '../../schemes/policies/index.js';
import { acquire, allocate, available, release, type LockUse } from '../../core/locks.js';
import { mmOf } from '../../core/lookup.js';
import { invalidateUserRange, unmapUnpin } from '../vfio/type1/unmap.js';
import { Tx } from '../../core/tx.js';
import type { Task, World } from '../../core/world.js';
import { lockOf, writeLock } from '../../vocab/locks.js';

export type Subscriber =
  | { readonly kind: 'sva'; readonly device: string }
  | { readonly kind: 'type1'; readonly container: number }
  | { readonly kind: 'interval'; readonly container: number; readonly dmaIova: bigint }
  /** A BAR mapping a scheme linked to the BAR's device (pfnmap 'vma-link' or 'dmabuf'). */
  | { readonly kind: 'link'; readonly container: number; readonly dmaIova: bigint };

/**
 * The mm's notifier subscribers an invalidation of [start, end) calls: SVA and type1 hlist
 * subscribers always, interval notifiers whose range overlaps (mn_itree_invalidate).
 */
export function subscribersOf(w: World, mm: number, start = 0n, end = U64_MAX): Subscriber[] {
  const m = mmOf(w, mm);
  return [
    ...m.intervals.filter((i) => i.start < end && start < i.end).map((i): Subscriber => ({ kind: 'interval', container: i.container, dmaIova: i.dmaIova })),
    ...m.svaNotifiers.map((device): Subscriber => ({ kind: 'sva', device })),
    ...m.type1Notifiers.map((container): Subscriber => ({ kind: 'type1', container })),
  ];
}

/**
 * What a subscriber's callback needs: type1's naive callback takes iommu->lock; an interval
 * callback takes the driver's update lock, with a trylock when the range is not blockable
 * (so it never waits there).
 */
export function callbackRequires(w: World, policy: Policy, sub: Subscriber | undefined, task?: Task): LockUse[] {
  if (sub?.kind === 'link') return [linkLock(policy, sub)];
  if (sub?.kind === 'interval') return task !== undefined && task.nonBlock > 0 ? [] : [writeLock(lockOf.update(sub.container))];
  if (sub?.kind !== 'type1' || !policy.type1Notifier.takesIommuLock || !w.containers.has(sub.container)) return [];
  return [writeLock(lockOf.iommu(sub.container))];
}

/**
 * invalidate_range_start: enter the lockdep map (held until invalidateEnd); with interval
 * notifiers, mn_itree_inv_start_range: active_invalidate_ranges++ and, if an interval overlaps,
 * invalidate_seq |= 1 (odd: readers must wait or retry).
 */
export function invalidateStart(tx: Tx, task: Task, mm: number, start: bigint, end: bigint, blockable: boolean, where: string): void {
  acquire(tx, task, lockOf.invalidateRangeStart, 'write', where);
  if (!blockable) task.nonBlock += 1; // non_block_start()
  // Counted even before the mm has an interval: the first mmu_interval_notifier_insert
  // registers the itree with mm_take_all_locks, which waits for an unmap_mapping_range in
  // flight (i_mmap_rwsem), so an insert never misses an invalidation that started before it.
  const m = mmOf(tx.world, mm);
  m.itreeActive += 1;
  if (m.intervals.some((i) => i.start < end && start < i.end)) m.itreeSeq |= 1;
  tx.emit('mmu_notifier.invalidate_start', { mm, start: hex(start), end: hex(end), blockable });
}

/** invalidate_range_end; mn_itree_inv_end: the last active invalidation makes the seq even again. */
export function invalidateEnd(tx: Tx, task: Task, mm: number, blockable: boolean): void {
  if (!blockable) task.nonBlock -= 1; // non_block_end()
  const m = mmOf(tx.world, mm);
  if (m.itreeActive > 0) {
    m.itreeActive -= 1;
    if (m.itreeActive === 0 && (m.itreeSeq & 1) === 1) m.itreeSeq += 1;
  }
  release(tx, task, lockOf.invalidateRangeStart);
  tx.emit('mmu_notifier.invalidate_end', { mm });
}

/** One subscriber's invalidate callback over [start, end) of `mm`. */
export function runCallback(tx: Tx, task: Task, sub: Subscriber, mm: number, start: bigint, end: bigint, where: string): void {
  if (sub.kind === 'link') {
    revokeLink(tx, task, sub, where);
    return;
  }
  if (sub.kind === 'interval') {
    intervalInvalidate(tx, task, sub, mm, where);
    return;
  }
  if (sub.kind === 'sva') {
    tx.emit('mmu_notifier.invalidate', { mm, device: sub.device, start: hex(start), end: hex(end) });
    return;
  }
  const policy = tx.policy.type1Notifier;
  const c = tx.world.containers.get(sub.container);
  if (!policy.registers || c === undefined || c.type1 === null) return;
  const lock = lockOf.iommu(sub.container);
  if (policy.takesIommuLock) acquire(tx, task, lock, 'write', where);
  if (policy.allocates) allocate(tx, task, `${where} (GFP_KERNEL in the callback)`);
  invalidateUserRange(tx, c, mm, start, end);
  if (policy.takesIommuLock) release(tx, task, lock);
}

/**
 * The interval notifier's ops->invalidate (Documentation/mm/hmm.rst): take the driver's update
 * lock (trylock if not blockable: on failure return false, the core gives -EAGAIN and nothing
 * changes), mmu_interval_set_seq(sub, cur_seq), tear down the IOMMU entries of the range before
 * returning, unlock. It allocates nothing.
 */
function intervalInvalidate(tx: Tx, task: Task, sub: Extract<Subscriber, { kind: 'interval' }>, mm: number, where: string): void {
  const lock = lockOf.update(sub.container);
  if (task.nonBlock > 0 && !available(tx.world, lock, 'write', task.name)) {
    tx.emit('mmu_notifier.eagain', { mm, container: sub.container, iova: hex(sub.dmaIova) });
    return;
  }
  const trylock = task.nonBlock > 0;
  if (trylock) task.nonBlock -= 1; // a trylock never sleeps
  acquire(tx, task, lock, 'write', where);
  if (trylock) task.nonBlock += 1;
  const m = mmOf(tx.world, mm);
  const i = m.intervals.find((x) => x.container === sub.container && x.dmaIova === sub.dmaIova);
  if (i !== undefined) i.seq = m.itreeSeq;
  const c = tx.world.containers.get(sub.container);
  const dma = c?.type1?.dmas.get(sub.dmaIova);
  if (c !== undefined && dma !== undefined && dma.iommuMapped) {
    tx.cascade('dma.invalidated', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
  }
  release(tx, task, lock);
}

/**
 * The lock under which a linked BAR mapping is torn down: type1's iommu->lock (vma-link: the
 * owner calls into type1), or the dma-buf's reservation lock (vfio_pci_dma_buf_move ->
 * dma_buf_move_notify; the importer unmaps under its own locks).
 */
export function linkLock(policy: Policy, sub: Extract<Subscriber, { kind: 'link' }>): LockUse {
  return writeLock(policy.pfnmap.linkLock(sub.container, sub.dmaIova));
}

/** Tears down a linked BAR mapping's IOMMU entries (the BAR is zapped, revoked or closed). */
export function revokeLink(tx: Tx, task: Task, sub: Extract<Subscriber, { kind: 'link' }>, where: string): void {
  const l = linkLock(tx.policy, sub);
  acquire(tx, task, l.lock, l.mode, where);
  const c = tx.world.containers.get(sub.container);
  const dma = c?.type1?.dmas.get(sub.dmaIova);
  if (c !== undefined && dma !== undefined && dma.iommuMapped) {
    tx.cascade('dma.revoked', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
  }
  release(tx, task, l.lock);
}

/** The linked BAR mappings of a device, as subscribers. */
export function linksOf(w: World, device: string): Subscriber[] {
  return (w.devices.get(device)?.linked ?? []).map((l): Subscriber => ({ kind: 'link', container: l.container, dmaIova: l.iova }));
}
