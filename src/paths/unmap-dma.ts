/**
 * The steps of the UNMAP_DMA path (machines/paths/unmap-dma.machine.ts):
 * drivers/vfio/vfio_iommu_type1.c vfio_dma_do_unmap, with vfio_notify_dma_unmap for the dmas
 * that mdev drivers pinned. The type1 rules (src/kernel/vfio/type1/unmap.ts) cite the kernel's lines.
 */
import { acquire, release } from '../core/locks.js';
import { forget, keep, type KeepsRefs, useKept } from '../core/lifetimes.js';
import { dmaKey } from '../kernel/vfio/type1/dma-tree.js';
import { vendorDmaUnmapLocks } from '../kernel/drivers/mdev-vendors.js';
import type { Policy } from '../schemes/policies/index.js';
import { containerOf } from '../core/lookup.js';
import type { Container, VfioDma, World } from '../core/world.js';
import { type1Target } from '../kernel/vfio/fops.js';
import { unchargeLocks as type1UnchargeLocks } from '../kernel/vfio/type1/accounting.js';
import { notifyDmaUnmap, type UnmapArg, unmapValidate, type UnmapWalk, unmapWalk } from '../kernel/vfio/type1/unmap.js';
import { U64_MAX } from '../log/u64.js';
import { lockOf, readLock, writeLock, type LockUse } from '../vocab/locks.js';
import { runEntry } from './atomic.js';
import { definePath, type PathLocals } from './types.js';

interface UnmapCtx extends PathLocals, KeepsRefs {
  container: number;
  arg: UnmapArg;
  walk: UnmapWalk;
  /** The pinned dma vfio_notify_dma_unmap is called with: its iova and size, as its memory holds them. */
  notifyIova: bigint;
  notifySize: bigint;
}

/** vfio_lock_acct uncharges each live mm with charged dmas in the range under its mmap_lock. */
function unchargeLocks(w: World, c: Container | undefined, a: UnmapArg): LockUse[] {
  const t = c?.type1;
  if (t == null) return [];
  const dmas: VfioDma[] = [];
  t.dmas.forRange(a.all ? 0n : a.iova, a.all ? U64_MAX + 1n : a.iova + a.size, false, (_k, d) => {
    dmas.push(d);
  });
  return type1UnchargeLocks(w, dmas);
}

/** iommu->lock, then the mmap_locks of the uncharges. */
function walkLocks(w: World, container: number, a: UnmapArg): LockUse[] {
  return [writeLock(lockOf.iommu(container)), ...unchargeLocks(w, w.containers.get(container), a)];
}

/** The locks the vendors' dma_unmap callbacks take (src/kernel/drivers/mdev-vendors.ts). */
function vendorUnpinLocks(w: World, policy: Policy, ctx: UnmapCtx): LockUse[] {
  const c = w.containers.get(ctx.container);
  return c === undefined ? [] : vendorDmaUnmapLocks(w, policy, c, ctx.notifyIova, ctx.notifySize);
}

/**
 * The locks of the notify and callback steps. Since v6.0 vfio_notify_dma_unmap takes
 * device_list_lock under iommu->lock, then drops iommu->lock (the proposed fix: drops it first,
 * takes device_list_lock for the callbacks). Before v6.0 (rule vfio-dma-unmap-callback)
 * vfio_dma_do_unmap drops iommu->lock, then blocking_notifier_call_chain(&iommu->notifier,
 * VFIO_IOMMU_NOTIFY_DMA_UNMAP, &nb_unmap) holds the chain's rwsem for read across the callbacks.
 */
function notifyLocks(w: World, container: number, policy: Policy): { notify: LockUse[]; callback: LockUse[]; iommuFirst: boolean } {
  if (w.containers.get(container)?.type1?.notifierChain === true) return { notify: [readLock(lockOf.notifier(container))], callback: [], iommuFirst: true };
  const dll = [writeLock(lockOf.deviceList(container))];
  return policy.mdevNotify.dropsIommuLockFirst ? { notify: [], callback: dll, iommuFirst: true } : { notify: dll, callback: [], iommuFirst: false };
}

export const unmapDma = definePath<UnmapCtx, 'ioctl'>()('unmap_dma', {
  validate: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_unmap_dma (argsz, flags, the bitmap)',
    run(tx, _task, rp) {
      const s = rp.stimulus;
      const target = type1Target(tx, s);
      const ctx = rp.ctx;
      if (target === null) {
        ctx.outcome = runEntry(tx, s);
        return 'RETURN';
      }
      const r = tx.attempt(() => unmapValidate(tx, s));
      if ('outcome' in r) {
        ctx.outcome = r.outcome;
        return 'RETURN';
      }
      ctx.arg = r.value;
      ctx.container = target.c.id;
      ctx.walk = { unmapped: 0n, lastIova: null, retries: 0 };
      return 'VALID';
    },
  },
  lock: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_dma_do_unmap (mutex_lock(iommu->lock), the checks, the walk: again:)',
    requires: (w, _t, rp) => walkLocks(w, rp.ctx.container, rp.ctx.arg),
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const c = containerOf(tx.world, ctx.container);
      const locks = walkLocks(tx.world, c.id, ctx.arg);
      for (const l of locks) acquire(tx, task, l.lock, l.mode, 'unmap_dma.lock');
      // A BUG_ON kills the task holding iommu->lock; the model releases it so that the violation
      // (KernelBug) is what the report shows.
      const r = tx.attempt(() => unmapWalk(tx, c, ctx.arg, ctx.walk));
      let event: 'RETURN' | 'NOTIFY' = 'RETURN';
      if ('outcome' in r) ctx.outcome = r.outcome;
      else if ('done' in r.value) ctx.outcome = r.value.done;
      else {
        // vfio_notify_dma_unmap(iommu, dma): the pointer is kept across the drop of iommu->lock
        const dma = c.type1!.dmas.get(r.value.notify)!;
        ctx.notifyIova = dma.iova;
        ctx.notifySize = dma.size;
        keep(task, 'dma', 'vfio_dma', dmaKey(c, dma), dma.id);
        event = 'NOTIFY';
      }
      // mmap_lock was needed only around the uncharges; iommu->lock stays over the notify's
      // device_list_lock acquisition (before v6.0 the notify drops it, then takes the chain's rwsem).
      for (const l of locks.slice(1).reverse()) release(tx, task, l.lock);
      if (event === 'RETURN') release(tx, task, lockOf.iommu(c.id));
      return event;
    },
  },
  notify: {
    mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_notify_dma_unmap (mutex_lock(device_list_lock), mutex_unlock(iommu->lock)); before v6.0 vfio_dma_do_unmap (mutex_unlock(iommu->lock), blocking_notifier_call_chain: down_read(&nh->rwsem))',
    requires: (w, _t, rp, policy) => notifyLocks(w, rp.ctx.container, policy).notify,
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const { notify, iommuFirst } = notifyLocks(tx.world, ctx.container, tx.policy);
      if (iommuFirst) release(tx, task, lockOf.iommu(ctx.container));
      for (const l of notify) acquire(tx, task, l.lock, l.mode, 'unmap_dma.notify');
      if (!iommuFirst) release(tx, task, lockOf.iommu(ctx.container));
      return 'CALLBACKS';
    },
  },
  callback: {
    mirrors: "drivers/vfio/vfio_iommu_type1.c:vfio_notify_dma_unmap (each device's ops->dma_unmap), mutex_unlock(device_list_lock); before v6.0 the chain's notifier calls, up_read(&nh->rwsem)",
    // each vendor's dma_unmap takes its own lock (scheme point mdevVendor), then calls
    // vfio_unpin_pages, which takes iommu->lock (and, without an IOMMU domain, the owner's
    // mmap_lock to uncharge: vfio_unpin_page_external -> vfio_lock_acct); under the proposed fix
    // the callbacks take device_list_lock here, after iommu->lock was dropped
    requires: (w, _t, rp, policy) => [...notifyLocks(w, rp.ctx.container, policy).callback, ...vendorUnpinLocks(w, policy, rp.ctx)],
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const c = containerOf(tx.world, ctx.container);
      const { notify, callback } = notifyLocks(tx.world, ctx.container, tx.policy);
      for (const l of callback) acquire(tx, task, l.lock, l.mode, 'unmap_dma.callback (device_list_lock)');
      // device->ops->dma_unmap(device, dma->iova, dma->size): dma is read after mutex_unlock(&iommu->lock)
      // (before v6.0 nb_unmap.iova / .size were copied under iommu->lock: no pointer is read)
      const now = c.type1!.dmas.get(ctx.notifyIova);
      if (!c.type1!.notifierChain) useKept(tx, task, 'dma', now, 'vfio_notify_dma_unmap: dma->iova, dma->size');
      const dma = { iova: ctx.notifyIova, size: ctx.notifySize };
      // the callbacks take their locks in turn (src/kernel/drivers/mdev-vendors.ts: vendorDmaUnmap)
      notifyDmaUnmap(tx, c, dma);
      for (const l of [...notify, ...callback]) release(tx, task, l.lock);
      // goto again: the walk starts from the tree; the dma pointer is not used again
      forget(task, 'dma');
      return 'RELOCK';
    },
  },
});
