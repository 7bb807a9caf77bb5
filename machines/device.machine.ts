/**
 * A vfio_device (vfio-pci or mdev), drivers/vfio/vfio_main.c and drivers/vfio/group.c.
 *
 * States:
 *   closed         registered, open_count == 0
 *   open           open_count > 0 (vfio_device_first_open ran)
 *   unregistering  vfio_unregister_group_dev() is waiting for the last registration reference
 *                  (every open device file holds one); the driver's unbind is blocked
 *   released       the last registration reference went (the completion fired); the unbinding
 *                  task has yet to remove the device
 *   removed        unregistered: vfio_device_remove_group() ran
 *
 * The memory-enable bit and reset are data (World.devices) with their effects in the engine:
 * they do not change which lifecycle events are legal.
 */
import { setup } from 'xstate';

export type DeviceEvent =
  | { type: 'OPEN_FIRST' }
  | { type: 'CLOSE_LAST' }
  | { type: 'UNBIND' }
  | { type: 'REMOVE' };

export const deviceMachine = setup({
  types: { events: {} as DeviceEvent },
  actions: {
    /** vfio_main.c:vfio_unregister_group_dev() after the wait: remove the group if last device. */
    removeDevice: () => {},
  },
}).createMachine({
  id: 'device',
  initial: 'closed',
  states: {
    closed: { on: { OPEN_FIRST: 'open', UNBIND: 'released' } },
    open: { on: { CLOSE_LAST: 'closed', UNBIND: 'unregistering' } },
    /** No new opens: vfio_device_try_get_registration fails once registration is put. */
    unregistering: { on: { CLOSE_LAST: 'released' } },
    released: { on: { REMOVE: { target: 'removed', actions: 'removeDevice' } } },
    removed: { type: 'final' },
  },
});
