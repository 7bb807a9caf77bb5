/**
 * SVA unbind as a kernel path: drivers/iommu/iommu-sva.c iommu_sva_unbind_device under
 * iommu_sva_lock; before the PASID is detached the IOMMU driver flushes the device's fault
 * queue (iopf_queue_flush_dev: "The IOMMU driver flushes all fault queues on unbind() before
 * freeing the PASID"), waiting for the handlers in flight.
 *
 * Steps: src/paths/sva-unbind.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: iommu_sva_lock, then (while waiting for the queue) whatever the handlers take:
 * mmap_lock (read).
 *
 * States:
 *   lock    nothing done; next: mutex_lock(iommu_sva_lock), drop the handle reference
 *   drain   last reference; next: once no handler of the device and PASID is in flight,
 *           detach, answer the pending requests INVALID, free the domain, unlock
 *   done    returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const svaUnbindConfig = {
  id: 'sva_unbind',
  initial: 'lock',
  states: {
    lock: { on: { DRAIN: 'drain', RETURN: 'done' } },
    drain: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const svaUnbindPath = setup({ types: { events: {} as PathEvent<typeof svaUnbindConfig> } }).createMachine(svaUnbindConfig);

export type SvaUnbindEvent = PathEvent<typeof svaUnbindConfig>;
