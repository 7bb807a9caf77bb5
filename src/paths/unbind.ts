/**
 * The steps of device unbind and hot-remove (machines/paths/unbind.machine.ts):
 * drivers/vfio/vfio_main.c vfio_unregister_group_dev puts the registration reference, waits for
 * the last user, then vfio_device_remove_group force-detaches the container when the group's
 * last device goes. Under pciehp the removal holds the slot's locks throughout.
 */
import { acquire, holding, release } from '../core/locks.js';
import { deviceOf } from '../core/lookup.js';
import type { World } from '../core/world.js';
import { unbindPut, unbindRemove } from '../kernel/vfio/device.js';
import { containerLocks } from '../kernel/vfio/group.js';
import { lockOf, readLock, writeLock, type LockUse } from '../vocab/locks.js';
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

/** The locks pciehp holds while it removes a device from a hotplug slot (`hot_remove`). */
function hotRemoveLocks(s: StimulusOf<'device.unbind'>): LockUse[] {
  return s.hot_remove === true ? [readLock(lockOf.reset(s.device)), writeLock(lockOf.rescanRemove)] : [];
}

export const unbind = definePath<PathLocals, 'device.unbind'>()('unbind', {
  put: {
    mirrors: 'drivers/vfio/vfio_main.c:vfio_unregister_group_dev -> vfio_device_put_registration (pciehp: pciehp_ist, pciehp_unconfigure_device)',
    requires: (_w, _t, rp) => hotRemoveLocks(rp.stimulus),
    run(tx, task, rp) {
      // pciehp's removal (drivers/pci/hotplug/pciehp_hpc.c pciehp_ist: down_read(reset_lock)
      // around the presence/link change; pciehp_unconfigure_device: pci_lock_rescan_remove)
      // holds both across the driver's remove, which is where vfio waits.
      for (const l of hotRemoveLocks(rp.stimulus)) acquire(tx, task, l.lock, l.mode, 'unbind.put (pciehp removal)');
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
      for (const l of hotRemoveLocks(rp.stimulus).reverse()) release(tx, task, l.lock);
      return 'RETURN';
    },
  },
});
