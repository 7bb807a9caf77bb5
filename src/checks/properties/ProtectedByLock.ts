/**
 * ProtectedByLock: every change to a structure the kernel protects with a lock (the dma tree:
 * iommu->lock; a vma and mm->locked_vm: mmap_lock; BAR state: memory_lock; a group's container:
 * group->group_lock; ...) happens with that lock held. Kernel rule: lockdep_assert_held() and
 * its _read/_write forms, and the locking each function documents; the kernel code of the model
 * calls assertHeld (src/core/locks.ts) at those places, citing them.
 */
import type { Touched } from '../../core/tx.js';

/** lockdep_assert_held respected: the changes a record made without their lock (none when it holds). */
export function protectedByLock(t: Touched): readonly string[] {
  return t.unprotected;
}
