/**
 * A PRI page request (I/O page fault group), drivers/iommu/io-pgfault.c.
 *
 * States:
 *   pending   recorded by iommu_report_device_fault(); awaiting iopf_group_response()
 *   answered  exactly one response (SUCCESS or INVALID) was sent
 *
 * RESPOND in `answered` is not accepted: a second response for the same group is a model bug
 * (iommu_page_response warns "no pending PRQ, drop response").
 */
import { setup } from 'xstate';

export type PageRequestEvent = { type: 'RESPOND' };

export const pageRequestMachine = setup({
  types: { events: {} as PageRequestEvent },
}).createMachine({
  id: 'page_request',
  initial: 'pending',
  states: {
    pending: { on: { RESPOND: 'answered' } },
    answered: { type: 'final' },
  },
});
