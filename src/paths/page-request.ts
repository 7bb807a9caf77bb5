/**
 * The steps of the page-request and SVA-unbind paths (machines/paths/page-request.machine.ts,
 * machines/paths/sva-unbind.machine.ts).
 */
import type { StimulusOf } from '../vocab/records.js';
import { acquire, holding, release } from '../core/locks.js';
import * as sva from '../kernel/iommu/sva.js';
import type { RunningPath, World } from '../core/world.js';
import type { PathDef, Requirement } from './types.js';

/** The mm a queued request's handler faults in (mmap_read_lock), if its bond's mm is alive. */
function handlerLocks(w: World, requestId: number): Array<{ lock: string; mode: 'read' }> {
  const r = w.pageRequests.find((x) => x.id === requestId);
  if (r === undefined || r.state !== 'pending') return [];
  const b = w.bonds.find((x) => x.device === r.device && x.pasid === r.pasid && x.state !== 'unbound');
  return b === undefined || w.mms.get(b.mm)?.state !== 'live' ? [] : [{ lock: `mmap_lock#${b.mm}`, mode: 'read' }];
}

export const pageRequestPath: PathDef = {
  machine: 'page_request_path',
  steps: {
    report: {
      run(tx, _task, rp) {
        const r = sva.reportFault(tx, rp.stimulus as StimulusOf<'device.page_request'>);
        rp.ctx['request'] = r?.id ?? -1;
        if (r === null) rp.ctx['outcome'] = { ret: 0n, out: { response: 'none' }, decidedBy: 'the device stopped the PASID: it sends no page request on it' };
        return r === null ? 'RETURN' : 'QUEUED';
      },
    },
    handle: {
      requires: (w, _t, rp): Requirement[] => handlerLocks(w, rp.ctx['request'] as number),
      run(tx, task, rp) {
        const id = rp.ctx['request'] as number;
        rp.ctx['outcome'] = holding(tx, task, handlerLocks(tx.world, id), 'page_request.handle (iommu_sva_handle_iopf)', () => sva.handleFault(tx, id));
        return 'RETURN';
      },
    },
  },
};

/** The tasks whose page request of this device and PASID is queued or being handled. */
function handlersInFlight(w: World, device: string, pasid: number): string[] {
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    const rp = t.current;
    if (rp?.path !== 'page_request' || rp.state !== 'handle') continue;
    const r = w.pageRequests.find((x) => x.id === rp.ctx['request']);
    if (r !== undefined && r.device === device && r.pasid === pasid && r.state === 'pending') out.push(t.name);
  }
  return out;
}

interface UnbindCtx {
  device: string;
  pasid: number;
  mm: number;
}

const ctxOf = (rp: RunningPath): UnbindCtx => rp.ctx as unknown as UnbindCtx;

export const svaUnbindPath: PathDef = {
  machine: 'sva_unbind',
  steps: {
    lock: {
      requires: (): Requirement[] => [{ lock: 'iommu_sva_lock', mode: 'write' }],
      run(tx, task, rp) {
        const bond = sva.bondToUnbind(tx, rp.stimulus as StimulusOf<'sva.unbind'>);
        acquire(tx, task, 'iommu_sva_lock', 'write', 'sva_unbind.lock');
        if (!sva.unbindPut(bond)) {
          release(tx, task, 'iommu_sva_lock');
          rp.ctx['outcome'] = { ret: 0n, decidedBy: 'iommu-sva.c:iommu_sva_unbind_device: handle still used' };
          return 'RETURN';
        }
        Object.assign(rp.ctx, { device: bond.device, pasid: bond.pasid, mm: bond.mm });
        return 'DRAIN';
      },
    },
    drain: {
      requires: (w, _t, rp, scheme): Requirement[] => {
        const ctx = ctxOf(rp);
        // before v5.18 the fault queue was not flushed at unbind
        if (scheme.pasidFree === 'unbind') return [];
        const busy = handlersInFlight(w, ctx.device, ctx.pasid);
        return [{ wait: `the fault queue of ${ctx.device} PASID ${ctx.pasid} (iopf_queue_flush_dev: ${busy.join(', ')})`, ready: busy.length === 0, on: busy }];
      },
      run(tx, task, rp) {
        const ctx = ctxOf(rp);
        const bond = tx.world.bonds.find((b) => b.device === ctx.device && b.pasid === ctx.pasid && b.mm === ctx.mm)!;
        rp.ctx['outcome'] = sva.unbindDetach(tx, bond);
        release(tx, task, 'iommu_sva_lock');
        return 'RETURN';
      },
    },
  },
};
