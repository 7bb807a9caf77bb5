/**
 * Device unbind / hot-remove as a kernel path: drivers/vfio/vfio_main.c
 * vfio_unregister_group_dev: put the registration reference, wait (unbounded) for the last one
 * (every open device file holds one), then vfio_device_remove_group, which force-detaches the
 * container when the group's last device goes.
 *
 * Lock order (removal): container->group_lock (write), then iommu->lock.
 *
 * States:
 *   put     nothing done; next: vfio_device_put_registration (and request() to the user)
 *   remove  registration put; next: once the completion fired, remove the device
 *   done    returned
 */
import { setup } from 'xstate';

export type UnbindEvent = { type: 'WAIT' } | { type: 'RETURN' };

export const unbindPath = setup({
  types: { events: {} as UnbindEvent },
}).createMachine({
  id: 'unbind',
  initial: 'put',
  states: {
    put: { on: { WAIT: 'remove' } },
    remove: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
});
