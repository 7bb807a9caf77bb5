/**
 * MsiWindowIntact: the MSI window is never mapped over or unmapped by user DMA mappings. Kernel
 * rule: type1 keeps the IOMMU's reserved regions (IOMMU_RESV_MSI, IOMMU_RESV_SW_MSI) out of its
 * iova_list, so vfio_dma_do_map refuses a range over them (vfio_iommu_iova_dma_valid).
 */
import { hex } from '../../log/u64.js';
import type { Touched } from '../../core/tx.js';
import type { World } from '../../core/world.js';

/** User mappings stay off the reserved MSI regions: the violation messages of a record's new PTEs (none when it holds). */
export function msiWindowIntact(w: World, t: Touched): string[] {
  const out: string[] = [];
  for (const p of t.ptes) {
    for (const r of w.iommu.resv) {
      if ((r.type === 'msi' || r.type === 'sw_msi') && p.iova <= r.end && r.start <= p.iova + p.size - 1n) {
        out.push(`container ${p.container}: a user mapping [${hex(p.iova)}, +${hex(p.size)}) covers the MSI window [${hex(r.start)}, ${hex(r.end)}]`);
      }
    }
  }
  return out;
}
