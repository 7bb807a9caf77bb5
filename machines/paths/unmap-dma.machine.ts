/**
 * VFIO_IOMMU_UNMAP_DMA as a kernel path: drivers/vfio/vfio_iommu_type1.c
 * vfio_iommu_type1_unmap_dma -> vfio_dma_do_unmap, with vfio_notify_dma_unmap for dmas that mdev
 * drivers pinned: it takes device_list_lock, drops iommu->lock, calls every device's dma_unmap
 * (which unpins through vfio_unpin_pages, taking iommu->lock), drops device_list_lock, retakes
 * iommu->lock, and walks again (`goto again`; BUG_ON(++retries > 10)).
 *
 * Steps: src/paths/unmap-dma.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: iommu->lock, then mmap_lock (vfio_lock_acct when a dma goes); iommu->lock, then
 * device_list_lock; inside the callbacks device_list_lock, then iommu->lock.
 *
 * States:
 *   validate  nothing done; next: the ioctl layer's checks
 *   lock      next: mutex_lock(iommu->lock), the checks, the walk (until done or a pinned dma)
 *   notify    a dma has mdev pins; next: mutex_lock(device_list_lock), mutex_unlock(iommu->lock)
 *   callback  next: every device's dma_unmap, mutex_unlock(device_list_lock)
 *   done      returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const unmapDmaConfig = {
  id: 'unmap_dma',
  initial: 'validate',
  states: {
    validate: { on: { VALID: 'lock', RETURN: 'done' } },
    lock: { on: { NOTIFY: 'notify', RETURN: 'done' } },
    notify: { on: { CALLBACKS: 'callback' } },
    callback: { on: { RELOCK: 'lock' } },
    done: { type: 'final' },
  },
} as const;

export const unmapDmaPath = setup({ types: { events: {} as PathEvent<typeof unmapDmaConfig> } }).createMachine(unmapDmaConfig);

export type UnmapDmaEvent = PathEvent<typeof unmapDmaConfig>;
