/**
 * A PASID of the global allocator (drivers/iommu/iommu-sva.c: iommu_alloc_mm_data,
 * iommu_alloc_global_pasid; kernel/fork.c: __mmdrop -> mm_pasid_drop).
 *
 * States:
 *   free       in the allocator (the initial state of every PASID)
 *   allocated  mm->iommu_mm->pasid: one PASID per mm, shared by all devices bound to it
 *   leaked     released without a guarantee that it is clean; never reallocated
 */
import { setup } from 'xstate';

export type PasidEvent = { type: 'ALLOCATE' } | { type: 'FREE' } | { type: 'LEAK' };

export const pasidMachine = setup({
  types: { events: {} as PasidEvent },
}).createMachine({
  id: 'pasid',
  initial: 'free',
  states: {
    free: { on: { ALLOCATE: 'allocated' } },
    allocated: { on: { FREE: 'free', LEAK: 'leaked' } },
    leaked: { type: 'final' },
  },
});
