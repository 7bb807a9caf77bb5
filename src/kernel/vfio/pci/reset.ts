/**
 * vfio-pci's function resets: VFIO_DEVICE_RESET (drivers/vfio/pci/vfio_pci_core.c
 * vfio_pci_ioctl_reset) and the reset at the last close (vfio_pci_core_disable). Both take the
 * device lock only with a trylock (pci_dev_trylock), so a remover that holds device_lock across
 * the driver's remove makes them fail or skip, never wait.
 */

import { locked, release, tryAcquire } from '../../../core/locks.js';
import { Tx, type Outcome } from '../../../core/tx.js';
import type { Device, Task } from '../../../core/world.js';
import { ModelError } from '../../../vocab/errors.js';
import { lockOf } from '../../../vocab/locks.js';
import { zapBars } from './bar.js';

function taskOf(tx: Tx, where: string): Task {
  if (tx.task === null) throw new ModelError(`${where} runs outside a task`);
  return tx.task;
}

/**
 * drivers/pci/pci.c pci_dev_trylock (device_trylock, then pci_cfg_access_trylock, which nothing
 * in the model holds), then __pci_reset_function_locked, then pci_dev_unlock; false when the
 * trylock fails. The model's function reset of a device in a hotplug slot is the slot reset
 * (pci_reset_bus_function -> pci_dev_reset_slot_function -> pciehp_hpc.c:pciehp_reset_slot:
 * down_write_nested(&ctrl->reset_lock)). reset_lock is never held across a step boundary in the
 * model (pciehp drops it around the driver's remove), so it is free here; taking it blocks no one.
 */
function tryResetLocked(tx: Tx, task: Task, d: Device, where: string): boolean {
  const dev = lockOf.device(d.name);
  if (!tryAcquire(tx, task, dev, 'write', `${where} (pci_dev_trylock)`)) return false;
  try {
    if (d.hotplug) locked(tx, task, lockOf.reset(d.name), 'write', `${where} (pciehp_reset_slot)`, () => undefined);
  } finally {
    release(tx, task, dev);
  }
  return true;
}

/**
 * VFIO_DEVICE_RESET: `if (!vdev->reset_works) return -EINVAL;` first, before the lock and the
 * zap; then vfio_pci_zap_and_down_write_memory_lock (the
 * caller, the zap path, holds memory_lock), zap the BARs, pci_try_reset_function: "Same as
 * above, except return -EAGAIN if unable to lock device" (`if (!pci_dev_trylock(dev)) return
 * -EAGAIN;`). The command register is restored by the reset's save/restore of config state.
 */
export function resetFunction(tx: Tx, d: Device): Outcome {
  // checked before vfio_pci_zap_and_down_write_memory_lock: the zap path runs no zap then (zap.ts)
  if (!d.resetWorks) return tx.fail('EINVAL', 'vfio_pci_core.c:vfio_pci_ioctl_reset: !vdev->reset_works');
  tx.cascade('device.reset', { device: d.name }, () => zapBars(tx, d));
  if (!tryResetLocked(tx, taskOf(tx, 'vfio_pci_ioctl_reset'), d, 'vfio_pci_ioctl_reset')) {
    return tx.fail('EAGAIN', 'drivers/pci/pci.c:pci_try_reset_function: pci_dev_trylock(dev) failed');
  }
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_ioctl_reset' };
}

/**
 * The reset of vfio_pci_core_disable at the last close (under dev_set->lock):
 *
 *   if (vdev->reset_works) {
 *       bridge = pci_upstream_bridge(pdev);
 *       if (bridge && !pci_dev_trylock(bridge)) goto out_restore_state;
 *       if (pci_dev_trylock(pdev)) {
 *           if (!__pci_reset_function_locked(pdev)) vdev->needs_reset = false;
 *           pci_dev_unlock(pdev);
 *       }
 *       ...
 *   vfio_pci_dev_set_try_reset(vdev->vdev.dev_set);
 *
 * The model has no bridge object, and nothing in it holds a bridge's device lock, so that
 * trylock always succeeds and is not modelled. When pci_dev_trylock(pdev) fails, needs_reset
 * stays true and vfio_pci_dev_set_try_reset calls pci_reset_bus, whose __pci_reset_slot
 * (pci_slot_trylock) or __pci_reset_bus (pci_bus_trylock) trylocks the same device lock: within
 * this step it fails the same way (-EAGAIN), so the device is closed without a reset.
 */
export function resetAtDisable(tx: Tx, d: Device): void {
  if (!d.resetWorks) return; // `if (vdev->reset_works) {`: no reset is tried, so none is skipped
  const task = taskOf(tx, 'vfio_pci_core_disable');
  if (tryResetLocked(tx, task, d, 'vfio_pci_core_disable')) return;
  const holder = tx.world.locks.get(lockOf.device(d.name))?.writer ?? null;
  tx.emit('device.reset_skipped', {
    device: d.name,
    check: 'vfio_pci_core.c:vfio_pci_core_disable: pci_dev_trylock(pdev) failed; pci.c:pci_reset_bus: pci_slot_trylock / pci_bus_trylock failed (-EAGAIN)',
    holder,
  });
}
