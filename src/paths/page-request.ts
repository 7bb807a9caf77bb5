/**
 * The steps of a PRI page request (machines/paths/page-request.machine.ts): the IOMMU reports
 * the fault (drivers/iommu/io-pgfault.c iommu_report_device_fault, queued on the device's fault
 * queue), and the workqueue handles it under the bond's mm (iommu_sva_handle_iopf:
 * mmap_read_lock, handle_mm_fault) and responds.
 */
import { holding } from '../core/locks.js';
import type { World } from '../core/world.js';
import { handleFault, reportFault } from '../kernel/iommu/sva.js';
import { lockOf, readLock, type LockUse } from '../vocab/locks.js';
import { definePath, type PathLocals } from './types.js';

interface RequestLocals extends PathLocals {
  /** The queued request's id, -1 when the device sent none. */
  request: number;
}

/** The mm a queued request's handler faults in (mmap_read_lock), if its bond's mm is alive. */
function handlerLocks(w: World, requestId: number): LockUse[] {
  const r = w.pageRequests.find((x) => x.id === requestId);
  if (r === undefined || r.state !== 'pending') return [];
  const b = w.bonds.find((x) => x.device === r.device && x.pasid === r.pasid && x.state !== 'unbound');
  return b === undefined || w.mms.get(b.mm)?.state !== 'live' ? [] : [readLock(lockOf.mmap(b.mm))];
}

export const pageRequest = definePath<RequestLocals, 'device.page_request'>()('page_request_path', {
  report: {
    mirrors: 'drivers/iommu/io-pgfault.c:iommu_report_device_fault (queue the fault)',
    run(tx, _task, rp) {
      const r = reportFault(tx, rp.stimulus);
      rp.ctx.request = r?.id ?? -1;
      if (r === null) rp.ctx.outcome = { ret: 0n, out: { response: 'none' }, decidedBy: 'the device stopped the PASID: it sends no page request on it' };
      return r === null ? 'RETURN' : 'QUEUED';
    },
  },
  handle: {
    mirrors: 'drivers/iommu/iommu-sva.c:iommu_sva_handle_iopf (mmap_read_lock, handle_mm_fault), iopf_group_response',
    requires: (w, _t, rp) => handlerLocks(w, rp.ctx.request),
    run(tx, task, rp) {
      const id = rp.ctx.request;
      rp.ctx.outcome = holding(tx, task, handlerLocks(tx.world, id), 'page_request.handle (iommu_sva_handle_iopf)', () => handleFault(tx, id));
      return 'RETURN';
    },
  },
});
