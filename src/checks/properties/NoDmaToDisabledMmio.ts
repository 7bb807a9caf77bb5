/**
 * NoDmaToDisabledMmio: no translated DMA lands on a BAR whose memory decode is off, whose device
 * is unbound, or that the mapping owner no longer holds open. Kernel rule: vfio-pci cuts user
 * access to a BAR then (vfio_pci_zap_bars), but type1 never invalidates IOMMU mappings of a BAR
 * (vfio_iommu_type1.c keeps no link from a PFNMAP vfio_dma to the BAR it maps:
 * docs/findings/pfnmap-dma-after-zap.md), which is what this reports.
 */
import { hex } from '../../log/u64.js';
import type { DmaLanding } from '../../core/tx.js';

/** A BAR is reachable only while bound, decoding and held open: one landing's violation message, or null. */
export function noDmaToDisabledMmio(l: DmaLanding): string | null {
  if (l.kind !== 'mmio') return null;
  const why = !l.present ? 'is unbound' : !l.decodeOn ? 'has memory decode off' : !l.ownerHoldsOpen ? 'is no longer held open by the mapping owner' : null;
  return why === null ? null : `DMA reached ${l.device} BAR${l.bar} at ${hex(l.phys)} (+${hex(l.size)}); the device ${why}`;
}
