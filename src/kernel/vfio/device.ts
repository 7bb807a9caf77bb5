/**
 * The vfio device file (drivers/vfio/vfio_main.c, device_cdev.c, group.c): its ioctls, its
 * release, and the unbind of the device from vfio (vfio_unregister_group_dev), which waits for
 * the last user.
 */

import * as sva from '../iommu/sva.js';
import { deviceOf, groupOf, containerOf } from '../../core/lookup.js';
import { Tx, type Outcome, type FileOps } from '../../core/tx.js';
import type { Process, Device, OpenFile } from '../../core/world.js';
import { hex } from '../../log/u64.js';
import { BadReference, showValue } from '../../vocab/errors.js';
import { lockOf, writeLock } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { fput } from '../fs/file.js';
import { resetAtDisable, resetFunction } from './pci/reset.js';
import { deviceFeature } from './pci/pm.js';
import { unmapUnpin } from './type1/unmap.js';
import { assertDeviceListLocked, deviceListLocks } from './type1/attach.js';
import { assertHeld } from '../../core/locks.js';
import { argFlags, argInt, argObject } from './uapi.js';

/** The device file's ioctls: vfio_device_fops_unl_ioctl -> device->ops->ioctl. */
export function deviceIoctl(tx: Tx, _p: Process, d: Device, s: StimulusOf<'ioctl'>): Outcome {
  if (s.cmd === 'VFIO_DEVICE_FEATURE') return deviceFeature(tx, d, s);
  if (s.cmd === 'VFIO_DEVICE_RESET') return d.mdev ? { ret: 0n, decidedBy: 'the mdev vendor driver resets its emulated state' } : resetFunction(tx, d);
  if (s.cmd === 'VFIO_DEVICE_BIND_TASK' || s.cmd === 'VFIO_DEVICE_UNBIND_TASK') {
    // Only the 2017 RFC scheme has these; upstream's vfio_pci_core_ioctl returns -ENOTTY.
    if (!tx.policy.pasid.bindTaskIoctls) return tx.fail('ENOTTY', 'vfio_pci_core.c:vfio_pci_core_ioctl: unknown ioctl');
    return bindTaskIoctl(tx, _p, d, s);
  }
  return tx.fail('ENOTTY', 'vfio_pci_core.c:vfio_pci_core_ioctl: not a device ioctl');
}

/** The 2017 RFC's release flags of VFIO_DEVICE_UNBIND_TASK (VFIO_SVM_PASID_RELEASE_FLUSHED, _CLEAN). */
const SVM_FLAGS = ['FLUSHED', 'CLEAN'] as const;
/** offsetofend(struct vfio_device_svm, pasid): argsz, flags, pasid. */
const SVM_MINSZ = 12;

/** VFIO_DEVICE_UNBIND_TASK's `arg: {flags, pasid}` (struct vfio_device_svm's input fields). */
export function unbindTaskArg(s: StimulusOf<'ioctl'>): { readonly flags: ReadonlySet<string>; readonly pasid: number } {
  const o = argObject(s, ['flags', 'pasid']);
  return { flags: argFlags(o, SVM_FLAGS), pasid: argInt(o, 'pasid') };
}

/**
 * The 2017 RFC's vfio_svm_ioctl (seed 001): VFIO_DEVICE_BIND_TASK binds the caller's mm and
 * writes the PASID back; VFIO_DEVICE_UNBIND_TASK takes `{flags, pasid}`, flags among FLUSHED
 * and CLEAN; released without either, the PASID is never reused. Both read struct
 * vfio_device_svm first; the RFC's text is not among the reference copies, and the model follows
 * the VFIO convention for it: `minsz = offsetofend(struct vfio_device_svm, pasid);
 * copy_from_user(&svm, arg, minsz); if (svm.argsz < minsz) return -EINVAL;`.
 */
function bindTaskIoctl(tx: Tx, p: Process, d: Device, s: StimulusOf<'ioctl'>): Outcome {
  if ((s.argsz ?? SVM_MINSZ) < SVM_MINSZ) tx.fail('EINVAL', 'vfio.c:vfio_svm_ioctl: svm.argsz < minsz');
  if (s.cmd === 'VFIO_DEVICE_BIND_TASK') {
    const r = sva.bind(tx, { op: 'sva.bind', device: d.name, pid: p.pid, seq: s.seq, line: s.line });
    const bond = tx.world.bonds.find((b) => b.device === d.name && b.mm === p.mm && b.state !== 'unbound');
    if (bond !== undefined) bond.viaVfio = true;
    return { ...r, decidedBy: 'vfio.c:vfio_svm_ioctl: VFIO_DEVICE_BIND_TASK (2017 RFC)' };
  }
  // `svm.flags & ~(VFIO_SVM_PASID_RELEASE_FLUSHED | VFIO_SVM_PASID_RELEASE_CLEAN)` -> -EINVAL:
  // the log can name no other flag (unbindTaskArg: bad input).
  const { flags, pasid } = unbindTaskArg(s);
  const bond = tx.world.bonds.find((b) => b.device === d.name && b.pasid === pasid && b.state !== 'unbound');
  if (bond === undefined) return { ret: 0n, decidedBy: 'vfio.c:vfio_svm_ioctl: no task bound with that PASID' };
  bond.users = 1;
  sva.unbindPut(bond);
  sva.unbindDetach(tx, bond, flags.has('FLUSHED') ? 'FLUSHED' : flags.has('CLEAN') ? 'CLEAN' : 'none');
  return { ret: 0n, decidedBy: 'vfio.c:vfio_svm_ioctl: VFIO_DEVICE_UNBIND_TASK (2017 RFC)' };
}

/**
 * The device file's f_op. vfio_main.c:vfio_device_fops_release -> group.c:vfio_df_group_close
 * takes group->group_lock then dev_set->lock (its fput of the group file is deferred again);
 * under the vma-link and dma-buf schemes the last close tears down the BAR's linked IOMMU
 * mappings under their lock. The reset of the last close takes no lock the release waits for:
 * vfio_pci_core_disable only trylocks the device (resetAtDisable in pci/reset.ts).
 */
export const DEVICE_FOPS: FileOps = {
  releaseLocks: (w, f, policy) => {
    const d = w.devices.get(f.device!);
    if (d === undefined) return [];
    const last = d.openCount === 1;
    const g = w.groups.get(d.group);
    const c = g?.container == null ? undefined : w.containers.get(g.container);
    return [
      writeLock(lockOf.group(d.group)),
      writeLock(lockOf.devSet(d.name)),
      ...(last ? d.linked.map((l) => writeLock(policy.pfnmap.linkLock(l.container, l.iova))) : []),
      // an mdev's last close unregisters it from type1 (vfio_device_container_unregister)
      ...(last && d.mdev && c?.type1 != null ? deviceListLocks(c, policy) : []),
    ];
  },
  release: (tx, f) => releaseDeviceFile(tx, f),
};

/**
 * vfio_main.c:vfio_device_fops_release -> vfio_df_group_close -> vfio_df_close: the last close
 * runs close_device and vfio_device_group_unuse_iommu (container_users--, fput of the group
 * file); then the registration reference is put, which may complete a waiting unbind.
 */
export function releaseDeviceFile(tx: Tx, f: OpenFile): void {
  const d = deviceOf(tx.world, f.device!);
  const g = groupOf(tx.world, d.group);
  assertHeld(tx, lockOf.devSet(d.name), `device ${d.name}'s open_count`); // vfio_main.c:vfio_df_close: lockdep_assert_held(&device->dev_set->lock)
  if (d.openCount === 1) {
    d.openCount = 0;
    // the 2017 RFC: "we do a pass of unbinds on release", without release flags
    for (const b of tx.world.bonds.filter((x) => x.device === d.name && x.viaVfio === true)) {
      b.users = 1;
      sva.unbindPut(b);
      sva.unbindDetach(tx, b, 'none');
    }
    // vma-link / dma-buf schemes: the owner's close unmaps (or revokes) the BAR's IOMMU mappings
    for (const l of d.linked) {
      const c = tx.world.containers.get(l.container);
      const dma = c?.type1?.dmas.get(l.iova);
      if (c !== undefined && dma !== undefined && dma.iommuMapped) tx.cascade('dma.revoked', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
    }
    if (g.container !== null) {
      const t = containerOf(tx.world, g.container).type1;
      if (t !== null && d.mdev) assertDeviceListLocked(tx, containerOf(tx.world, g.container)); // vfio_device_container_unregister -> vfio_iommu_type1_unregister_device
      if (t !== null) t.deviceList = t.deviceList.filter((n) => n !== d.name);
    }
    if (!d.mdev) disableDevice(tx, d);
    assertHeld(tx, lockOf.group(g.key), `group ${g.key}'s container_users`); // container.c:vfio_group_unuse_container: lockdep_assert_held(&group->group_lock)
    g.containerUsers -= 1;
    d.registrations -= 1;
    // The last registration reference: a waiting vfio_unregister_group_dev completes.
    tx.fire('device', d.name, d, 'CLOSE_LAST');
    fput(tx, g.file!);
  } else {
    d.openCount -= 1;
    d.registrations -= 1;
  }
}

/**
 * vfio_pci_core_close_device -> vfio_pci_core_disable, in the kernel's order:
 *
 *   pci_clear_master(pdev);                      "Stop the device from further DMA"
 *   ...
 *   pci_write_config_word(pdev, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE);
 *   if (vdev->reset_works) { ... __pci_reset_function_locked(pdev) under pci_dev_trylock ... }
 *   out_restore_state: pci_restore_state(pdev);
 *   out: pci_disable_device(pdev);               do_pci_disable_device: clears PCI_COMMAND_MASTER
 *
 * The command register ends as it was saved at open (vfio_pci_core_enable: pci_clear_master,
 * pci_enable_device, pci_save_state): memory decode on, bus mastering off. The write of
 * INTX_DISABLE (decode off) is undone within the same step, so nothing observes it. (When the
 * saved state cannot be reloaded and !reset_works the kernel skips the restore; the model
 * always has the saved state.)
 */
function disableDevice(tx: Tx, d: Device): void {
  // vfio_pci_core_disable begins with vfio_pci_runtime_pm_exit(vdev) (under memory_lock, which
  // the model's release does not take: nothing else runs on the closed device's flag)
  d.pmRuntimeEngaged = false;
  d.busMaster = false;
  resetAtDisable(tx, d);
  d.memoryEnabled = true;
}

/**
 * The `device.unbind` stimulus, first step: vfio_unregister_group_dev puts the registration
 * reference. With no user the completion has fired; otherwise the caller waits for the last
 * registration reference (open device files), relaying request() to the user.
 */
export function unbindPut(tx: Tx, s: StimulusOf<'device.unbind'>): Device {
  const d = deviceOf(tx.world, s.device);
  if (d.state !== 'closed' && d.state !== 'open') throw new BadReference('device', `device ${showValue(d.name)} is already being unbound`);
  tx.fire('device', d.name, d, 'UNBIND');
  if ((d.state as string) === 'unregistering') tx.emit('device.request', { device: d.name, count: 0 });
  return d;
}

/** After the wait: vfio_device_remove_group (the device machine's REMOVE, action removeDevice). */
export function unbindRemove(tx: Tx, d: Device): Outcome {
  tx.fire('device', d.name, d, 'REMOVE');
  return { ret: 0n, decidedBy: 'vfio_main.c:vfio_unregister_group_dev' };
}

/**
 * The device machine's removeDevice action: vfio_device_remove_group when the group's last
 * device goes: force-detach the container and clear iommu_group.
 */
export function removeDevice(tx: Tx, d: Device): void {
  tx.touched.teardown = true;
  tx.cascade('device.unregistered', { device: d.name }, () => {
    const g = groupOf(tx.world, d.group);
    const others = g.devices.some((n) => n !== d.name && deviceOf(tx.world, n).state !== 'removed');
    if (others) return;
    g.iommuGroupPresent = false;
    tx.fire('group', g.key, g, 'REMOVE');
  });
}

