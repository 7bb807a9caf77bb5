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
import { hex } from '../../log/u64.js';
import type { Scheme } from '../../schemes/scheme.js';
import { acquire, allocate, release } from '../locks.js';
import { mmOf } from '../lookup.js';
import * as type1 from '../rules/type1.js';
import type { Tx } from '../tx.js';
import type { Task, World } from '../world.js';
import type { Requirement } from './types.js';

export type Subscriber = { readonly kind: 'sva'; readonly device: string } | { readonly kind: 'type1'; readonly container: number };

/** The mm's notifier subscribers, in registration order within each kind. */
export function subscribersOf(w: World, mm: number): Subscriber[] {
  const m = mmOf(w, mm);
  return [...m.svaNotifiers.map((device): Subscriber => ({ kind: 'sva', device })), ...m.type1Notifiers.map((container): Subscriber => ({ kind: 'type1', container }))];
}

/** What a subscriber's callback needs: type1's naive callback takes iommu->lock. */
export function callbackRequires(w: World, scheme: Scheme, sub: Subscriber | undefined): Requirement[] {
  if (sub?.kind !== 'type1' || scheme.type1Notifier?.takesIommuLock !== true || !w.containers.has(sub.container)) return [];
  return [{ lock: `iommu.lock#${sub.container}`, mode: 'write' }];
}

/** invalidate_range_start: enter the lockdep map (held until invalidateEnd). */
export function invalidateStart(tx: Tx, task: Task, mm: number, start: bigint, end: bigint, blockable: boolean, where: string): void {
  acquire(tx, task, 'mmu_notifier_invalidate_range_start', 'write', where);
  if (!blockable) task.nonBlock += 1; // non_block_start()
  tx.emit('mmu_notifier.invalidate_start', { mm, start: hex(start), end: hex(end), blockable });
}

export function invalidateEnd(tx: Tx, task: Task, mm: number, blockable: boolean): void {
  if (!blockable) task.nonBlock -= 1; // non_block_end()
  release(tx, task, 'mmu_notifier_invalidate_range_start');
  tx.emit('mmu_notifier.invalidate_end', { mm });
}

/** One subscriber's invalidate callback over [start, end) of `mm`. */
export function runCallback(tx: Tx, task: Task, sub: Subscriber, mm: number, start: bigint, end: bigint, where: string): void {
  if (sub.kind === 'sva') {
    tx.emit('mmu_notifier.invalidate', { mm, device: sub.device, start: hex(start), end: hex(end) });
    return;
  }
  const policy = tx.scheme.type1Notifier;
  const c = tx.world.containers.get(sub.container);
  if (policy === null || c === undefined || c.type1 === null) return;
  const lock = `iommu.lock#${sub.container}`;
  if (policy.takesIommuLock) acquire(tx, task, lock, 'write', where);
  if (policy.allocates) allocate(tx, task, `${where} (GFP_KERNEL in the callback)`);
  type1.invalidateUserRange(tx, c, mm, start, end);
  if (policy.takesIommuLock) release(tx, task, lock);
}
