/**
 * An mm_struct: its two reference counts drive its lifecycle.
 *
 * Mirrors kernel/fork.c: mmput() -> __mmput() -> exit_mmap() when mm_users drops to 0, and
 * mmdrop() -> __mmdrop() when mm_count drops to 0. vfio_dma (drivers/vfio/vfio_iommu_type1.c:
 * vfio_dma_do_map, mmgrab) and SVA domains hold mm_count, not mm_users, so an exited mm can
 * outlive its address space. The PASID is freed at __mmdrop() -> mm_pasid_drop() (v5.19+).
 * exit_mmap itself has steps (machines/paths/exit.machine.ts): it calls the notifiers' release,
 * then takes mmap_lock and unmaps.
 *
 * States:
 *   live     mm_users > 0: the address space exists
 *   exited   mm_users == 0, mm_count > 0: mmput dropped the last user (mmget_not_zero fails);
 *            exit_mmap runs from here, after it only the struct is left
 *   freed    mm_count == 0: __mmdrop() has run
 */
import { setup } from 'xstate';

export type MmEvent = { type: 'LAST_USER_GONE' } | { type: 'LAST_REF_DROPPED' };

export const mmMachine = setup({
  types: { events: {} as MmEvent },
  actions: {
    /** kernel/fork.c:__mmdrop() -> mm_pasid_drop(): the PASID returns to the allocator. */
    pasidDrop: () => {},
  },
}).createMachine({
  id: 'mm',
  initial: 'live',
  states: {
    live: { on: { LAST_USER_GONE: 'exited' } },
    exited: { on: { LAST_REF_DROPPED: { target: 'freed', actions: 'pasidDrop' } } },
    freed: { type: 'final' },
  },
});
