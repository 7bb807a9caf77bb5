/**
 * MMU-notifier invalidation as steps (mm/mmu_notifier.c, include/linux/mmu_notifier.h): the
 * caller holds the lockdep map `mmu_notifier_invalidate_range_start` from
 * invalidate_range_start to invalidate_range_end, and each subscriber's callback is one step,
 * because a callback may block (a type1 notifier that takes iommu->lock). The callbacks belong
 * to their subscribers and are reached through their ops (KernelOps.notifier), as
 * mn_hlist_invalidate_range_start calls subscription->ops: SVA bonds (src/kernel/iommu/sva.ts),
 * type1's and the interval notifiers (src/kernel/vfio/type1/notifier.ts), linked BAR mappings
 * (src/kernel/vfio/pci/links.ts).
 */
import { U64_MAX, hex } from '../../log/u64.js';
import type { Policy } from '../../schemes/policies/index.js';
import { acquire, release, type LockUse } from '../../core/locks.js';
import { mmOf } from '../../core/lookup.js';
import type { KernelOps, NotifierOps, Tx } from '../../core/tx.js';
import type { Subscriber, Task, World } from '../../core/world.js';
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

/** One subscriber's invalidate callback over [start, end) of `mm`, through its ops. */
export function runCallback(tx: Tx, task: Task, sub: Subscriber, mm: number, start: bigint, end: bigint, where: string): void {
  (tx.ops.notifier[sub.kind] as NotifierOps<Subscriber>).invalidate(tx, task, sub, mm, start, end, where);
}
