/**
 * A vfio_dma: one successful VFIO_IOMMU_MAP_DMA, drivers/vfio/vfio_iommu_type1.c.
 *
 * States:
 *   pinning       linked into dma_list with size 0; vfio_pin_map_dma() grows it chunk by chunk
 *   mapped        every page pinned (or found MMIO) and mapped into every domain, or, with no
 *                 domain (mdev-only container), recorded for later pinning
 *   vaddrInvalid  VFIO_DMA_UNMAP_FLAG_VADDR: the IOMMU mapping and pins stay, vaddr is void until
 *                 a MAP_DMA with VFIO_DMA_MAP_FLAG_VADDR (vfio_dma_do_map step 8)
 *   removed       vfio_remove_dma(): unmapped from every domain, IOTLB synced, then unpinned
 *
 * A dma with a non-empty pfn_list is never removed: vfio_dma_do_unmap first notifies the mdev
 * drivers (vfio_notify_dma_unmap) and retries, BUG_ON(++retries > 10).
 */
import { setup } from 'xstate';

export type VfioDmaEvent =
  | { type: 'PINNED' }
  | { type: 'PIN_FAILED' }
  | { type: 'INVALIDATE_VADDR' }
  | { type: 'UPDATE_VADDR' }
  | { type: 'REMOVE' };

export const vfioDmaMachine = setup({
  types: { events: {} as VfioDmaEvent },
  actions: {
    /** vfio_iommu_type1.c:vfio_unmap_unpin(): iommu_unmap, iotlb sync, then unpin and uncharge. */
    unmapUnpin: () => {},
  },
}).createMachine({
  id: 'vfio_dma',
  initial: 'pinning',
  states: {
    pinning: { on: { PINNED: 'mapped', PIN_FAILED: { target: 'removed', actions: 'unmapUnpin' } } },
    mapped: {
      on: { INVALIDATE_VADDR: 'vaddrInvalid', REMOVE: { target: 'removed', actions: 'unmapUnpin' } },
    },
    vaddrInvalid: {
      on: { UPDATE_VADDR: 'mapped', REMOVE: { target: 'removed', actions: 'unmapUnpin' } },
    },
    removed: { type: 'final' },
  },
});
