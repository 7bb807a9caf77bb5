/**
 * NoBlockInNonBlockable: a non-blockable invalidation callback never sleeps or waits. Kernel
 * rule: when mmu_notifier_range_blockable() is false, an invalidate_range_start callback must
 * not take a sleeping lock (it returns -EAGAIN instead).
 */
import type { Touched } from '../../core/tx.js';

/** mmu_notifier_range_blockable() respected: the sleeping locks a record took in a non-blockable invalidation. */
export function noBlockInNonBlockable(t: Touched): readonly string[] {
  return t.nonBlockSleeps;
}
