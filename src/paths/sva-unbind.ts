/**
 * The steps of an SVA unbind (machines/paths/sva-unbind.machine.ts):
 * drivers/iommu/iommu-sva.c iommu_sva_unbind_device under iommu_sva_lock: drop the handle's
 * user; the last one drains the device's fault queue (iopf_queue_flush_dev, v5.18+) before
 * the PASID is detached.
 */
import { acquire, release } from '../core/locks.js';
import type { World } from '../core/world.js';
import { bondKey, bondToUnbind, unbindDetach, unbindPut } from '../kernel/iommu/sva.js';
import { keep, type KeepsRefs, useKept } from '../core/lifetimes.js';
import { lockOf } from '../vocab/locks.js';
import { definePath, type PathLocals } from './types.js';

/** The tasks whose page request of this device and PASID is queued or being handled. */
function handlersInFlight(w: World, device: string, pasid: number): string[] {
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    const rp = t.current;
    if (rp?.path !== 'page_request' || rp.state !== 'handle') continue;
    const r = w.pageRequests.find((x) => x.id === (rp.ctx as { request?: number }).request);
    if (r !== undefined && r.device === device && r.pasid === pasid && r.state === 'pending') out.push(t.name);
  }
  return out;
}

interface UnbindLocals extends PathLocals, KeepsRefs {
  device: string;
  pasid: number;
  mm: number;
}

export const svaUnbind = definePath<UnbindLocals, 'sva.unbind'>()('sva_unbind', {
  lock: {
    mirrors: 'drivers/iommu/iommu-sva.c:iommu_sva_unbind_device (mutex_lock(iommu_sva_lock), --handle->users)',
    requires: () => [{ lock: lockOf.sva, mode: 'write' }],
    run(tx, task, rp) {
      const bond = bondToUnbind(tx, rp.stimulus);
      acquire(tx, task, lockOf.sva, 'write', 'sva_unbind.lock');
      if (!unbindPut(bond)) {
        release(tx, task, lockOf.sva);
        rp.ctx.outcome = { ret: 0n, decidedBy: 'iommu-sva.c:iommu_sva_unbind_device: handle still used' };
        return 'RETURN';
      }
      Object.assign(rp.ctx, { device: bond.device, pasid: bond.pasid, mm: bond.mm });
      // the handle is kept across the drain, under iommu_sva_lock
      keep(task, 'bond', 'sva_bond', bondKey(bond), null);
      return 'DRAIN';
    },
  },
  drain: {
    mirrors: 'drivers/iommu/io-pgfault.c:iopf_queue_flush_dev, then iommu_detach_device_pasid',
    requires: (w, _t, rp, policy) => {
      const ctx = rp.ctx;
      // before v5.18 the fault queue was not flushed at unbind
      if (!policy.pasid.drainsAtUnbind) return [];
      const busy = handlersInFlight(w, ctx.device, ctx.pasid);
      return [{ wait: `the fault queue of ${ctx.device} PASID ${ctx.pasid} (iopf_queue_flush_dev: ${busy.join(', ')})`, ready: busy.length === 0, on: busy }];
    },
    run(tx, task, rp) {
      const ctx = rp.ctx;
      const bond = tx.world.bonds.find((b) => bondKey(b) === bondKey(ctx));
      const alive = useKept(tx, task, 'bond', bond === undefined ? undefined : { id: null }, 'iommu_detach_device_pasid(domain, dev, ...) with the kept handle');
      // a freed handle: the kernel would detach through freed memory; the model ends the call
      rp.ctx.outcome = alive ? unbindDetach(tx, bond!) : { ret: 0n, decidedBy: 'KernelUseAfterFree: the SVA handle was freed under the unbind; the model ends the call here' };
      release(tx, task, lockOf.sva);
      return 'RETURN';
    },
  },
});
