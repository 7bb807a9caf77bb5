/**
 * A VFIO group (/dev/vfio/$GROUP), drivers/vfio/group.c.
 *
 * States:
 *   closed    no open group file
 *   open      the group file is open (only one: vfio_group_fops_open gives EBUSY otherwise)
 *   attached  open, and group->container is set (VFIO_GROUP_SET_CONTAINER)
 *   removed   vfio_device_remove_group() ran: iommu_group is NULL, new users get ENODEV
 *
 * A device file holds a reference on the group file, so RELEASE (vfio_group_fops_release) only
 * happens once no device of the group is open.
 */
import { setup } from 'xstate';

export type GroupEvent =
  | { type: 'OPEN' }
  | { type: 'SET_CONTAINER' }
  | { type: 'UNSET_CONTAINER' }
  | { type: 'RELEASE' }
  | { type: 'REMOVE' };

export const groupMachine = setup({
  types: { events: {} as GroupEvent },
  actions: {
    /** group.c:vfio_group_detach_container(), from release, UNSET_CONTAINER or removal. */
    detachContainer: () => {},
  },
}).createMachine({
  id: 'group',
  initial: 'closed',
  states: {
    closed: { on: { OPEN: 'open', REMOVE: 'removed' } },
    open: { on: { SET_CONTAINER: 'attached', RELEASE: 'closed', REMOVE: 'removed' } },
    attached: {
      on: {
        UNSET_CONTAINER: { target: 'open', actions: 'detachContainer' },
        RELEASE: { target: 'closed', actions: 'detachContainer' },
        REMOVE: { target: 'removed', actions: 'detachContainer' },
      },
    },
    /** The group file may still be open; closing it changes nothing more. */
    removed: { on: { RELEASE: 'removed' } },
  },
});
