/**
 * MMU-notifier invalidation as steps (mm/mmu_notifier.c, include/linux/mmu_notifier.h). Each
 * subscriber's callback is one step, because a callback may block (a type1 notifier that takes
 * iommu->lock). The lockdep map `mmu_notifier_invalidate_range_start` has the kernel's extent
 * (docs/concurrency.md, "The lockdep map"): held while invalidate_range_start calls the start
 * callbacks and released when it returns (startReturns, after the last callback step), taken
 * again inside invalidate_range_end; mmu_interval_read_begin, mmu_interval_notifier_remove and
 * every allocation that may reclaim (fs_reclaim_acquire) take and release it at once. The
 * callbacks belong to their subscribers and are reached through their ops (KernelOps.notifier),
 * as mn_hlist_invalidate_range_start calls subscription->ops: SVA bonds
 * (src/kernel/iommu/sva.ts), type1's and the interval notifiers
 * (src/kernel/vfio/type1/notifier.ts), linked BAR mappings (src/kernel/vfio/pci/links.ts).
 */
import { U64_MAX, hex } from '../../log/u64.js';
import type { Policy } from '../../schemes/policies/index.js';
import { acquire, locked, release, type LockUse } from '../../core/locks.js';
import { mmOf } from '../../core/lookup.js';
import type { KernelOps, NotifierOps, Tx } from '../../core/tx.js';
import type { Mm, Subscriber, Task, World } from '../../core/world.js';
import { lockOf } from '../../vocab/locks.js';

export type { Subscriber };

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

/** What a subscriber's callback needs before it can run: the locks its ops say it takes. */
export function callbackRequires(w: World, ops: KernelOps, policy: Policy, sub: Subscriber | undefined, task?: Task): LockUse[] {
  if (sub === undefined) return [];
  return (ops.notifier[sub.kind] as NotifierOps<Subscriber>).locks(w, policy, sub, task);
}

/**
 * mm_has_notifiers: the mm has a notifier_subscriptions (the model: a subscriber now; the
 * kernel keeps the structure from the first registration until __mmdrop, which records no
 * other edge: see invalidateEnd).
 */
export function hasNotifiers(m: Mm): boolean {
  return m.intervals.length > 0 || m.svaNotifiers.length > 0 || m.type1Notifiers.length > 0;
}

/**
 * mm/mmu_notifier.c:mn_itree_inv_start_range: active_invalidate_ranges++ and, if an interval
 * overlaps [start, end), invalidate_seq |= 1 (odd: readers must wait or retry). Counted even
 * before the mm has an interval: the first mmu_interval_notifier_insert registers the itree with
 * mm_take_all_locks, which waits for an unmap_mapping_range in flight (i_mmap_rwsem), so an
 * insert never misses an invalidation that started before it.
 */
function itreeStart(m: Mm, start: bigint, end: bigint): void {
  m.itreeActive += 1;
  if (m.intervals.some((i) => i.start < end && start < i.end)) m.itreeSeq |= 1;
}

/** mm/mmu_notifier.c:mn_itree_inv_end: the last active invalidation makes the seq even again. */
function itreeEnd(m: Mm): void {
  if (m.itreeActive === 0) return;
  m.itreeActive -= 1;
  if (m.itreeActive === 0 && (m.itreeSeq & 1) === 1) m.itreeSeq += 1;
}

/**
 * include/linux/mmu_notifier.h:mmu_notifier_invalidate_range_start (and _nonblock):
 * lock_map_acquire(&__mmu_notifier_invalidate_range_start_map), then
 * __mmu_notifier_invalidate_range_start (mn_itree_invalidate: mn_itree_inv_start_range and the
 * interval callbacks; mn_hlist_invalidate_range_start: the hlist callbacks), then
 * lock_map_release. The map is entered here, outside the mm_has_notifiers check as in the
 * kernel; the callbacks run as the next steps, and startReturns leaves it after the last.
 */
export function invalidateStart(tx: Tx, task: Task, mm: number, start: bigint, end: bigint, blockable: boolean, where: string): void {
  acquire(tx, task, lockOf.invalidateRangeStart, 'write', where);
  if (!blockable) task.nonBlock += 1; // non_block_start()
  itreeStart(mmOf(tx.world, mm), start, end);
  tx.emit('mmu_notifier.invalidate_start', { mm, start: hex(start), end: hex(end), blockable });
}

/**
 * invalidate_range_start returns: lock_map_release(&__mmu_notifier_invalidate_range_start_map),
 * after the last start callback and before anything the caller does next (the unmap, the
 * invalidate_range_end). A path that started several invalidations in one step (the BAR zap)
 * leaves every one. Outside invalidate_range_start (mmu_notifier_release's callbacks run
 * outside the map) there is nothing to leave.
 */
export function startReturns(tx: Tx, task: Task): void {
  while (task.held.some((h) => h.id === lockOf.invalidateRangeStart)) release(tx, task, lockOf.invalidateRangeStart);
}

/**
 * include/linux/mmu_notifier.h:mmu_notifier_invalidate_range_end -> (if mm_has_notifiers)
 * mm/mmu_notifier.c:__mmu_notifier_invalidate_range_end: lock_map_acquire, mn_itree_inv_end,
 * the hlist end callbacks (none of the model's subscribers has one), lock_map_release. The
 * caller holds what it held at invalidate_range_start, so the end records no edge the start did
 * not.
 */
export function invalidateEnd(tx: Tx, task: Task, mm: number, blockable: boolean, where: string): void {
  if (!blockable) task.nonBlock -= 1; // non_block_end()
  const m = mmOf(tx.world, mm);
  if (hasNotifiers(m)) locked(tx, task, lockOf.invalidateRangeStart, 'write', where, () => itreeEnd(m));
  else itreeEnd(m);
  tx.emit('mmu_notifier.invalidate_end', { mm });
}

/**
 * mm/mmu_notifier.c:__mmu_notifier_release -> mn_itree_release, first half: a blockable
 * MMU_NOTIFY_RELEASE range over the whole address space, mn_itree_inv_start_range (the seq goes
 * odd if the mm has an interval). It is not invalidate_range_start: no lockdep map.
 */
export function releaseItreeStart(m: Mm): void {
  itreeStart(m, 0n, U64_MAX);
}

/** mn_itree_release, second half: mn_itree_inv_end after the last interval callback. */
export function releaseItreeEnd(m: Mm): void {
  itreeEnd(m);
}

/**
 * A lockdep map taken and released at once (lock_map_acquire; lock_map_release): what
 * mmu_interval_read_begin and mmu_interval_notifier_remove do before they may wait, and
 * fs_reclaim_acquire after __fs_reclaim_acquire. It records `<every lock held> -> the map`.
 */
export function touchMap(tx: Tx, task: Task, where: string): void {
  locked(tx, task, lockOf.invalidateRangeStart, 'write', where, () => undefined);
}

/** One subscriber's invalidate callback over [start, end) of `mm`, through its ops; `false` if it failed. */
export function runCallback(tx: Tx, task: Task, sub: Subscriber, mm: number, start: bigint, end: bigint, where: string): boolean {
  return (tx.ops.notifier[sub.kind] as NotifierOps<Subscriber>).invalidate(tx, task, sub, mm, start, end, where) !== false;
}

/**
 * A non-blockable invalidate_range_start fails at an interval callback:
 * mm/mmu_notifier.c:mn_itree_invalidate `if (!ret) { if (WARN_ON(mmu_notifier_range_blockable(range)))
 * continue; goto out_would_block; }`, and out_would_block is `mn_itree_inv_end(subscriptions);
 * return -EAGAIN;` ("the non-blocking caller is not allowed to call invalidate_range_end()");
 * __mmu_notifier_invalidate_range_start returns it before mn_hlist_invalidate_range_start, so
 * no later interval and no hlist subscriber is called; then
 * mmu_notifier_invalidate_range_start_nonblock's lock_map_release. The model's non_block
 * section (invalidateStart to invalidateEnd) ends here, as no invalidateEnd follows.
 */
export function invalidateStartFails(tx: Tx, task: Task, mm: number): void {
  task.nonBlock -= 1;
  itreeEnd(mmOf(tx.world, mm));
  startReturns(tx, task);
}
