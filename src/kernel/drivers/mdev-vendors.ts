/**
 * The mediated-device vendor drivers (gvt, vfio-ccw, vfio-ap) as the model sees them: the
 * dma_unmap callback vfio_notify_dma_unmap calls, which must unpin what the driver pinned in the
 * range (include/linux/vfio.h: "Drivers MUST unpin pages in response to an invalidation").
 */

import { Tx } from '../../core/tx.js';
import type { Container, Device, World } from '../../core/world.js';
import { hex } from '../../log/u64.js';
import { unchargeOnUnpinLocks, unpinRange } from '../vfio/mdev.js';
import { locked } from '../../core/locks.js';
import { ModelError } from '../../vocab/errors.js';
import { lockdepName, lockOf, type LockUse, writeLock } from '../../vocab/locks.js';
import type { Policy } from '../../schemes/policies/index.js';

/**
 * The vendor driver's dma_unmap(iova, size) callback, called by vfio_notify_dma_unmap. The
 * scheme says what the vendor does (upstream: "Drivers MUST unpin pages in response to an
 * invalidation") and which vendor it is (mdevVendor): gvt holds vgpu->cache_lock across the range
 * (kvmgt.c:intel_vgpu_dma_unmap: mutex_lock(&vgpu->cache_lock), then gvt_dma_unmap_page ->
 * gvt_unpin_guest_page -> vfio_unpin_pages for each cached entry), vfio-ap holds
 * matrix_dev->mdevs_lock (vfio_ap_ops.c:vfio_ap_mdev_dma_unmap -> unmap_iova ->
 * vfio_ap_irq_disable -> vfio_ap_free_aqic_resources -> vfio_unpin_pages). Each vfio_unpin_pages
 * takes iommu->lock (vfio_iommu_type1_unpin_pages) and, to uncharge, the owner's mmap_lock.
 */
export function vendorDmaUnmap(tx: Tx, c: Container, d: Device, iova: bigint, size: bigint): void {
  if (!tx.policy.mdevDmaUnmap.vendorUnpins) {
    tx.emit('mdev.dma_unmap_ignored', { device: d.name, iova: hex(iova), size: hex(size) });
    return;
  }
  const task = tx.task;
  if (task === null) throw new ModelError('the dma_unmap callback ran outside a task');
  const pages = [...d.vendorPins.entries()].filter(([p]) => p >= iova && p < iova + size).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const unpinAll = (): void => {
    for (const [page, count] of pages) {
      for (let k = 0; k < count; k += 1) locked(tx, task, lockOf.iommu(c.id), 'write', 'unmap_dma.callback (vfio_unpin_pages)', () => unpinRange(tx, c, d, page, 1));
    }
  };
  const vendor = tx.policy.mdevVendor.vendorLock(d.name);
  if (vendor === null) unpinAll();
  else locked(tx, task, vendor, 'write', `unmap_dma.callback (dma_unmap: ${lockdepName(vendor)})`, unpinAll);
}

/**
 * The locks the dma_unmap callbacks of container `c`'s devices take for [iova, iova + size), in
 * the kernel's order: each vendor's lock (mdevVendor), iommu->lock, and the mmap_locks (write) of
 * the uncharges. Empty when the vendors ignore the callback.
 */
export function vendorDmaUnmapLocks(w: World, policy: Policy, c: Container, iova: bigint, size: bigint): LockUse[] {
  if (!policy.mdevDmaUnmap.vendorUnpins || c.type1 == null) return [];
  const vendors = c.type1.deviceList.map((name) => policy.mdevVendor.vendorLock(name)).filter((l): l is string => l !== null);
  return [...[...new Set(vendors)].map(writeLock), writeLock(lockOf.iommu(c.id)), ...unchargeOnUnpinLocks(w, c.type1, iova, size)];
}
