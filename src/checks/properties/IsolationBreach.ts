/**
 * IsolationBreach: a device reached memory no mapping granted. Kernel rule: only an IOMMU
 * confines device DMA; a noiommu group (vfio_noiommu, CAP_SYS_RAWIO) has none, so every DMA it
 * makes is untranslated and reported here.
 */
import { hex } from '../../log/u64.js';
import type { DmaLanding } from '../../core/tx.js';

/** DMA goes through IOMMU translation: one landing's violation message, or null when it holds. */
export function isolationBreach(l: DmaLanding): string | null {
  if (l.kind === 'raw') return `${l.device} reached physical ${hex(l.phys)} (+${hex(l.size)}) with no IOMMU translation`;
  return null;
}
