/**
 * A PRI page request as a kernel path: drivers/iommu/io-pgfault.c iommu_report_device_fault
 * queues the fault group on the device's iopf workqueue; iommu_sva_handle_iopf later runs it
 * (handle_mm_fault under mmap_read_lock of the bound mm) and answers it (iopf_group_response).
 *
 * Steps: src/paths/page-request.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * States:
 *   report  nothing done; next: record the request (pending); a device that stopped the
 *           PASID sends none
 *   handle  queued; next: the workqueue handler answers it
 *   done    answered (or answered INVALID meanwhile by the detach of its PASID)
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const pageRequestConfig = {
  id: 'page_request_path',
  initial: 'report',
  states: {
    report: { on: { QUEUED: 'handle', RETURN: 'done' } },
    handle: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const pageRequestPath = setup({ types: { events: {} as PathEvent<typeof pageRequestConfig> } }).createMachine(pageRequestConfig);

export type PageRequestPathEvent = PathEvent<typeof pageRequestConfig>;
