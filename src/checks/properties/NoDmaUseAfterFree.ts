/**
 * NoDmaUseAfterFree: every translated device DMA lands on RAM still pinned for its mapping.
 * Kernel rule: vfio_unmap_unpin unpins a range only after iommu_unmap and the IOTLB sync, so no
 * device can still reach a page once it is unpinned.
 */
import { hex } from '../../log/u64.js';
import type { DmaLanding } from '../../core/tx.js';

/** Unpin after IOTLB sync: the violation message of one DMA landing, or null when it holds. */
export function noDmaUseAfterFree(l: DmaLanding): string | null {
  if (l.kind === 'ram' && !l.pinned) return `DMA reached RAM ${hex(l.phys)} (+${hex(l.size)}) that vfio_dma ${l.dma} no longer pins`;
  return null;
}
