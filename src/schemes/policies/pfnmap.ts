/**
 * Policy point `pfnmap`: how type1 maps a range that is all PFNMAP (a BAR), and what a BAR zap,
 * revoke or close does to that IOMMU mapping. One entry per value; the kernel code asks these
 * questions and nothing else (src/paths/map-dma.ts, src/paths/zap.ts, src/kernel/vfio/type1.ts,
 * src/kernel/mm/mmu_notifier.ts, src/kernel/vfio/device.ts).
 */
import type { Scheme } from '../scheme.js';
import { lockOf } from '../../vocab/locks.js';

export interface PfnmapPolicy {
  /** MAP_DMA of a range that is all BAR goes through an interval notifier, without pins. */
  readonly intervalNotifier: boolean;
  /** The IOMMU mapping of a BAR is linked to the BAR's device, torn down on zap and close. */
  readonly linksBarMappings: boolean;
  /**
   * The BAR reaches the IOMMU as a dma-buf: type1 never follows its pfns (a revoked buffer is
   * ENODEV), the importer maps under the buffer's reservation lock, and a zap revokes it under
   * memory_lock until decode comes back.
   */
  readonly dmabuf: boolean;
  /** The lock under which a linked BAR mapping is torn down. */
  linkLock(container: number, iova: bigint): string;
}

/** type1 itself tears a linked mapping down, under iommu->lock. */
const underIommuLock = (container: number): string => lockOf.iommu(container);

export const PFNMAP: { readonly [V in Scheme['pfnmap']]: PfnmapPolicy } = {
  /**
   * Upstream: vaddr_get_pfns -> follow_fault_pfn follows the BAR's pfns; nothing tracks the
   * IOMMU mapping afterwards (drivers/vfio/vfio_iommu_type1.c).
   */
  follow: { intervalNotifier: false, linksBarMappings: false, dmabuf: false, linkLock: underIommuLock },
  /**
   * The pinless scheme of Documentation/mm/hmm.rst (seed 002): an interval notifier on the
   * range, mmu_interval_read_begin / read_retry under the driver's update lock, a callback that
   * takes only that lock (trylock when non-blockable) and unmaps the range's IOMMU entries.
   */
  interval: { intervalNotifier: true, linksBarMappings: false, dmabuf: false, linkLock: underIommuLock },
  /**
   * Seed 002: type1 accepts only vfio BARs and links the IOMMU mapping to the BAR's owner (vma
   * private data); vfio-pci unmaps it, taking iommu->lock, when it zaps the BAR under
   * memory_lock and when the device is closed.
   */
  'vma-link': { intervalNotifier: false, linksBarMappings: true, dmabuf: false, linkLock: underIommuLock },
  /**
   * The BAR as a dma-buf (drivers/vfio/pci/vfio_pci_dmabuf.c, 2025): mapped only while the
   * buffer is not revoked; vfio_pci_dma_buf_move revokes it under memory_lock and the
   * reservation lock, and the importer unmaps under that lock.
   */
  dmabuf: { intervalNotifier: false, linksBarMappings: true, dmabuf: true, linkLock: (container, iova) => lockOf.dmaResv(container, iova) },
};
