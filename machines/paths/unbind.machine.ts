/**
 * Device unbind / hot-remove as a kernel path: drivers/vfio/vfio_main.c
 * vfio_unregister_group_dev: put the registration reference, wait (unbounded) for the last one
 * (every open device file holds one), then vfio_device_remove_group, which force-detaches the
 * container when the group's last device goes.
 *
 * Steps: src/paths/unbind.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: (hot-remove: pci_rescan_remove_lock, pciehp_unconfigure_device), device_lock
 * (drivers/base/dd.c device_release_driver_internal), both held from put until the path
 * returns; at the removal container->group_lock (write), then iommu->lock.
 *
 * States:
 *   put     nothing done; next: take the locks above, vfio_device_put_registration (and
 *           request() to the user)
 *   remove  registration put; next: once the completion fired, remove the device
 *   done    returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const unbindConfig = {
  id: 'unbind',
  initial: 'put',
  states: {
    put: { on: { WAIT: 'remove' } },
    remove: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const unbindPath = setup({ types: { events: {} as PathEvent<typeof unbindConfig> } }).createMachine(unbindConfig);

export type UnbindEvent = PathEvent<typeof unbindConfig>;
