/**
 * The mediated-device vendor drivers (gvt, vfio-ccw, vfio-ap) as the model sees them: the
 * dma_unmap callback vfio_notify_dma_unmap calls, which must unpin what the driver pinned in the
 * range (include/linux/vfio.h: "Drivers MUST unpin pages in response to an invalidation").
 */

import { Tx } from '../../core/tx.js';
import type { Container, Device } from '../../core/world.js';
import { hex } from '../../log/u64.js';
import { unpinRange } from '../vfio/mdev.js';

/**
 * The vendor driver's dma_unmap(iova, size) callback, called by vfio_notify_dma_unmap. The
 * scheme says what the vendor does (upstream: "Drivers MUST unpin pages in response to an
 * invalidation").
 */
export function vendorDmaUnmap(tx: Tx, c: Container, d: Device, iova: bigint, size: bigint): void {
  if (!tx.policy.mdevDmaUnmap.vendorUnpins) {
    tx.emit('mdev.dma_unmap_ignored', { device: d.name, iova: hex(iova), size: hex(size) });
    return;
  }
  const pages = [...d.vendorPins.entries()].filter(([p]) => p >= iova && p < iova + size).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [page, count] of pages) for (let k = 0; k < count; k += 1) unpinRange(tx, c, d, page, 1);
}
