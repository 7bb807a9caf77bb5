/**
 * The steps of the UNMAP_DMA path (machines/paths/unmap-dma.machine.ts).
 */
import type { StimulusOf } from '../vocab/records.js';
import { U64_MAX } from '../log/u64.js';
import { acquire, release } from '../core/locks.js';
import { containerOf } from '../core/lookup.js';
import * as files from '../kernel/vfio/files.js';
import * as type1 from '../kernel/vfio/type1.js';
import { KernelOops, KernelReturn, type Outcome } from '../core/tx.js';
import type { Container, RunningPath, World } from '../core/world.js';
import { runRule } from './atomic.js';
import type { PathDef, Requirement } from './types.js';

interface UnmapCtx {
  container: number;
  arg: type1.UnmapArg;
  walk: type1.UnmapWalk;
  notifyIova: bigint;
  outcome: Outcome;
}

const ctxOf = (rp: RunningPath): UnmapCtx => rp.ctx as unknown as UnmapCtx;
const iommuLock = (c: number): string => `iommu.lock#${c}`;
const deviceListLock = (c: number): string => `device_list_lock#${c}`;

/**
 * vfio_lock_acct uncharges each live mm with charged dmas in the range under its mmap_lock
 * (write).
 */
function unchargeLocks(w: World, c: Container | undefined, a: type1.UnmapArg): Requirement[] {
  const mms = new Set<number>();
  const t = c?.type1;
  if (t == null) return [];
  const end = a.all ? U64_MAX + 1n : a.iova + a.size;
  const from = a.all ? 0n : a.iova;
  t.dmas.forRange(from, end, false, (_k, d) => {
    if (d.lockedVm > 0 && w.mms.get(d.mm)?.state === 'live') mms.add(d.mm);
  });
  return [...mms].sort((x, y) => x - y).map((mm): Requirement => ({ lock: `mmap_lock#${mm}`, mode: 'write' }));
}

export const unmapDma: PathDef = {
  machine: 'unmap_dma',
  steps: {
    validate: {
      run(tx, _task, rp) {
        const s = rp.stimulus as StimulusOf<'ioctl'>;
        const target = files.type1Target(tx, s);
        const ctx = ctxOf(rp);
        if (target === null) {
          ctx.outcome = runRule(tx, files.ioctl as never, s);
          return 'RETURN';
        }
        try {
          ctx.arg = type1.unmapValidate(tx, s);
        } catch (e) {
          if (!(e instanceof KernelReturn)) throw e;
          ctx.outcome = { errno: e.errno, decidedBy: e.check };
          return 'RETURN';
        }
        ctx.container = target.c.id;
        ctx.walk = { unmapped: 0n, lastIova: null, retries: 0 };
        return 'VALID';
      },
    },
    lock: {
      requires: (w, _t, rp): Requirement[] => [{ lock: iommuLock(ctxOf(rp).container), mode: 'write' }, ...unchargeLocks(w, w.containers.get(ctxOf(rp).container), ctxOf(rp).arg)],
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        const c = containerOf(tx.world, ctx.container);
        const locks = [{ lock: iommuLock(c.id), mode: 'write' as const }, ...unchargeLocks(tx.world, c, ctx.arg)] as Array<{ lock: string; mode: 'read' | 'write' }>;
        for (const l of locks) acquire(tx, task, l.lock, l.mode, 'unmap_dma.lock');
        let event = 'RETURN';
        try {
          const r = type1.unmapWalk(tx, c, ctx.arg, ctx.walk);
          if ('done' in r) ctx.outcome = r.done;
          else {
            ctx.notifyIova = r.notify;
            event = 'NOTIFY';
          }
        } catch (e) {
          if (e instanceof KernelReturn) ctx.outcome = { errno: e.errno, decidedBy: e.check };
          else if (e instanceof KernelOops) {
            // BUG_ON: the task dies holding iommu->lock; the model releases it so that the
            // violation (KernelBug) is what the report shows.
            tx.kernelBug(e.check);
            ctx.outcome = { oops: e.check, decidedBy: e.check };
          } else throw e;
        }
        // mmap_lock was needed only around the uncharges; iommu->lock stays over the notify's
        // device_list_lock acquisition.
        for (const l of locks.slice(1).reverse()) release(tx, task, l.lock);
        if (event === 'RETURN') release(tx, task, iommuLock(c.id));
        return event;
      },
    },
    notify: {
      requires: (_w, _t, rp): Requirement[] => [{ lock: deviceListLock(ctxOf(rp).container), mode: 'write' }],
      run(tx, task, rp) {
        // vfio_notify_dma_unmap: mutex_lock(device_list_lock); mutex_unlock(iommu->lock)
        const ctx = ctxOf(rp);
        acquire(tx, task, deviceListLock(ctx.container), 'write', 'unmap_dma.notify');
        release(tx, task, iommuLock(ctx.container));
        return 'CALLBACKS';
      },
    },
    callback: {
      // the vendor's dma_unmap calls vfio_unpin_pages, which takes iommu->lock
      requires: (_w, _t, rp, scheme): Requirement[] => (scheme.mdevDmaUnmap === 'unpin' ? [{ lock: iommuLock(ctxOf(rp).container), mode: 'write' }] : []),
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        const c = containerOf(tx.world, ctx.container);
        if (tx.scheme.mdevDmaUnmap === 'unpin') {
          acquire(tx, task, iommuLock(c.id), 'write', 'unmap_dma.callback (vfio_unpin_pages)');
          type1.notifyDmaUnmap(tx, c, ctx.notifyIova);
          release(tx, task, iommuLock(c.id));
        } else type1.notifyDmaUnmap(tx, c, ctx.notifyIova);
        release(tx, task, deviceListLock(ctx.container));
        return 'RELOCK';
      },
    },
  },
};
