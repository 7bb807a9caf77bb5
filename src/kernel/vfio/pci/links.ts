/**
 * BAR mappings that a scheme links to the BAR's device (pfnmap 'vma-link': seed 002's "link
 * itself into the vma->private data"; 'dmabuf': drivers/vfio/pci/vfio_pci_dmabuf.c, whose
 * vfio_pci_dma_buf_move -> dma_buf_move_notify makes the importer unmap): a zap, a revoke or
 * the device's close tears their IOMMU entries down, under the lock the scheme names.
 */
import { acquire, release } from '../../../core/locks.js';
import type { NotifierOps } from '../../../core/tx.js';
import type { Subscriber, World } from '../../../core/world.js';
import { hex } from '../../../log/u64.js';
import type { Policy } from '../../../schemes/policies/index.js';
import { writeLock, type LockUse } from '../../../vocab/locks.js';
import { unmapUnpin } from '../type1/unmap.js';

type Link = Extract<Subscriber, { kind: 'link' }>;

/**
 * The lock under which a linked BAR mapping is torn down: type1's iommu->lock (vma-link: the
 * owner calls into type1), or the dma-buf's reservation lock (vfio_pci_dma_buf_move ->
 * dma_buf_move_notify; the importer unmaps under its own locks).
 */
export function linkLock(policy: Policy, sub: Link): LockUse {
  return writeLock(policy.pfnmap.linkLock(sub.container, sub.dmaIova));
}

/** Tears a linked BAR mapping's IOMMU entries down (the BAR is zapped, revoked or closed). */
export const LINK_OPS: NotifierOps<Link> = {
  locks: (_w, policy, sub) => [linkLock(policy, sub)],
  invalidate(tx, task, sub, _mm, _start, _end, where) {
    const l = linkLock(tx.policy, sub);
    acquire(tx, task, l.lock, l.mode, where);
    const c = tx.world.containers.get(sub.container);
    const dma = c?.type1?.dmas.get(sub.dmaIova);
    if (c !== undefined && dma !== undefined && dma.iommuMapped) {
      tx.cascade('dma.revoked', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
    }
    release(tx, task, l.lock);
  },
};

/** The linked BAR mappings of a device, as subscribers. */
export function linksOf(w: World, device: string): Link[] {
  return (w.devices.get(device)?.linked ?? []).map((l): Link => ({ kind: 'link', container: l.container, dmaIova: l.iova }));
}
