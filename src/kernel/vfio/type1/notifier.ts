/**
 * type1's own MMU-notifier subscribers, which only schemes add (upstream type1 registers none):
 * the notifier of seed 002's alternative (its callback unmaps and unpins the dmas whose user
 * range is invalidated), and the interval notifier of the pinless scheme (Documentation/mm/hmm.rst).
 */
import { acquire, allocate, available, release } from '../../../core/locks.js';
import { mmOf } from '../../../core/lookup.js';
import type { NotifierOps } from '../../../core/tx.js';
import type { Subscriber } from '../../../core/world.js';
import { hex } from '../../../log/u64.js';
import { lockOf, writeLock } from '../../../vocab/locks.js';
import { invalidateUserRange, unmapUnpin } from './unmap.js';

/**
 * The type1 notifier's invalidate_range_start: under the scheme's choices it takes iommu->lock
 * and allocates with GFP_KERNEL, then unmaps and unpins the range's dmas.
 */
export const TYPE1_NOTIFIER_OPS: NotifierOps<Extract<Subscriber, { kind: 'type1' }>> = {
  locks: (w, policy, sub) => (policy.type1Notifier.takesIommuLock && w.containers.has(sub.container) ? [writeLock(lockOf.iommu(sub.container))] : []),
  invalidate(tx, task, sub, mm, start, end, where) {
    const policy = tx.policy.type1Notifier;
    const c = tx.world.containers.get(sub.container);
    if (!policy.registers || c === undefined || c.type1 === null) return;
    const lock = lockOf.iommu(sub.container);
    if (policy.takesIommuLock) acquire(tx, task, lock, 'write', where);
    if (policy.allocates) allocate(tx, task, `${where} (GFP_KERNEL in the callback)`);
    invalidateUserRange(tx, c, mm, start, end);
    if (policy.takesIommuLock) release(tx, task, lock);
  },
};

/**
 * The interval notifier's ops->invalidate (Documentation/mm/hmm.rst): take the driver's update
 * lock (trylock if not blockable: on failure return false, the core gives -EAGAIN and nothing
 * changes: reported as `false`), mmu_interval_set_seq(sub, cur_seq), tear down the IOMMU entries of the range before
 * returning, unlock. It allocates nothing. A non-blockable caller never waits for the lock.
 */
export const INTERVAL_NOTIFIER_OPS: NotifierOps<Extract<Subscriber, { kind: 'interval' }>> = {
  locks: (_w, _policy, sub, task) => (task !== undefined && task.nonBlock > 0 ? [] : [writeLock(lockOf.update(sub.container))]),
  invalidate(tx, task, sub, mm, _start, _end, where) {
    const lock = lockOf.update(sub.container);
    if (task.nonBlock > 0 && !available(tx.world, lock, 'write', task.name)) {
      tx.emit('mmu_notifier.eagain', { mm, container: sub.container, iova: hex(sub.dmaIova) });
      return false;
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
    return true;
  },
};
