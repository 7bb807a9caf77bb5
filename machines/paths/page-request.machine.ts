/**
 * A PRI page request as a kernel path: drivers/iommu/io-pgfault.c iommu_report_device_fault
 * queues the fault group on the device's iopf workqueue; iommu_sva_handle_iopf later runs it
 * (handle_mm_fault under mmap_read_lock of the bound mm) and answers it (iopf_group_response).
 *
 * States:
 *   report  nothing done; next: record the request (pending); a device that stopped the
 *           PASID sends none
 *   handle  queued; next: the workqueue handler answers it
 *   done    answered (or answered INVALID meanwhile by the detach of its PASID)
 */
import { setup } from 'xstate';

export type PageRequestPathEvent = { type: 'QUEUED' } | { type: 'RETURN' };

export const pageRequestPath = setup({
  types: { events: {} as PageRequestPathEvent },
}).createMachine({
  id: 'page_request_path',
  initial: 'report',
  states: {
    report: { on: { QUEUED: 'handle', RETURN: 'done' } },
    handle: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
});
