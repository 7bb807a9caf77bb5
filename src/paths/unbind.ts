/**
 * The steps of device unbind and hot-remove (machines/paths/unbind.machine.ts):
 * drivers/vfio/vfio_main.c vfio_unregister_group_dev puts the registration reference, waits for
 * the last user, then vfio_device_remove_group force-detaches the container when the group's
 * last device goes. The driver core holds the device's device_lock across the driver's remove,
 * and a hot-remove by pciehp holds pci_rescan_remove_lock around it.
 */
import { acquire, holding, release } from '../core/locks.js';
import { deviceOf } from '../core/lookup.js';
import type { World } from '../core/world.js';
import { unbindPut, unbindRemove } from '../kernel/vfio/device.js';
import { containerLocks } from '../kernel/vfio/group.js';
import { lockOf, writeLock, type LockUse } from '../vocab/locks.js';
import type { StimulusOf } from '../vocab/records.js';
import { definePath, type PathLocals } from './types.js';

/** The tasks whose process holds `device` open (the users an unbind waits for). */
function holdersOf(w: World, name: string): string[] {
  const pids = new Set<number>();
  for (const p of w.processes.values()) {
    for (const id of p.fds.values()) if (w.files.get(id)?.device === name) pids.add(p.pid);
    for (const v of w.mms.get(p.mm)?.vmas ?? []) if (v.device === name) pids.add(p.pid);
  }
  const out: string[] = [];
  for (const t of w.tasks.values()) {
    const s = t.current?.stimulus ?? t.queue[0];
    if (s !== undefined && pids.has((s as { pid?: number }).pid ?? -1)) out.push(t.name);
  }
  return out;
}

/** The locks vfio_device_remove_group takes when it force-detaches the container. */
function removalLocks(w: World, name: string): LockUse[] {
  const d = w.devices.get(name);
  const g = d === undefined ? undefined : w.groups.get(d.group);
  if (d === undefined || g === undefined || g.container === null) return [];
  if (g.devices.some((n) => n !== name && w.devices.get(n)?.state !== 'removed')) return [];
  const c = w.containers.get(g.container);
  if (c === undefined) return [];
  // group.c:vfio_device_remove_group: mutex_lock(&group->group_lock), then vfio_group_detach_container (as a group file's release)
  return [writeLock(lockOf.group(g.key)), ...containerLocks(w, c, true)];
}

/**
 * The locks held across the driver's remove, in the order they are taken. A hot-remove
 * (`hot_remove`): drivers/pci/hotplug/pciehp_pci.c pciehp_unconfigure_device takes
 * pci_lock_rescan_remove() and then drops the slot's reset_lock, which pciehp_ist holds for
 * read around the event ("Release reset_lock during driver unbinding to avoid AB-BA deadlock
 * with device_lock": up_read(&ctrl->reset_lock); pci_stop_and_remove_bus_device(dev);
 * down_read_nested(...)), so reset_lock is not held here. Then drivers/pci/remove.c
 * pci_stop_dev -> device_release_driver, or for a sysfs unbind drivers/base/bus.c
 * unbind_store -> device_driver_detach: drivers/base/dd.c device_release_driver_internal ->
 * __device_driver_lock: device_lock(dev), held across __device_release_driver -> ->remove()
 * (vfio_pci_remove -> vfio_unregister_group_dev, which waits).
 */
function removalHeld(s: StimulusOf<'device.unbind'>): LockUse[] {
  return [...(s.hot_remove === true ? [writeLock(lockOf.rescanRemove)] : []), writeLock(lockOf.device(s.device))];
}

export const unbind = definePath<PathLocals, 'device.unbind'>()('unbind', {
  put: {
    mirrors: 'drivers/base/dd.c:device_release_driver_internal (device_lock) -> vfio_main.c:vfio_unregister_group_dev -> vfio_device_put_registration (pciehp: pciehp_pci.c:pciehp_unconfigure_device)',
    requires: (_w, _t, rp) => removalHeld(rp.stimulus),
    run(tx, task, rp) {
      for (const l of removalHeld(rp.stimulus)) acquire(tx, task, l.lock, l.mode, 'unbind.put (device_release_driver)');
      unbindPut(tx, rp.stimulus);
      return 'WAIT';
    },
  },
  remove: {
    mirrors: 'drivers/vfio/vfio_main.c:vfio_unregister_group_dev (wait_for_completion) -> vfio_device_remove_group',
    requires: (w, _t, rp) => {
      const name = rp.stimulus.device;
      const d = w.devices.get(name)!;
      return [{ wait: `the last registration reference of ${name} (vfio_unregister_group_dev)`, ready: d.state === 'released', on: holdersOf(w, name) }, ...removalLocks(w, name)];
    },
    run(tx, task, rp) {
      const d = deviceOf(tx.world, rp.stimulus.device);
      rp.ctx.outcome = holding(tx, task, removalLocks(tx.world, d.name), 'unbind.remove (vfio_device_remove_group)', () => unbindRemove(tx, d));
      for (const l of removalHeld(rp.stimulus).reverse()) release(tx, task, l.lock);
      return 'RETURN';
    },
  },
});
