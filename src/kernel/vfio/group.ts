/**
 * The group: /dev/vfio/<group>, its ioctls and its release (drivers/vfio/group.c, the attach in
 * drivers/vfio/container.c). Checks run in the kernel's order with the kernel's errno.
 */

import { unchargeLocks } from './type1/accounting.js';
import { assertDeviceListLocked, attachGroup, detachGroup, deviceListLocks } from './type1/attach.js';
import { assertHeld } from '../../core/locks.js';
import { fileOf, containerOf, groupOf } from '../../core/lookup.js';
import { Tx, type Outcome, type FileOps } from '../../core/tx.js';
import type { Process, Group, World, Container } from '../../core/world.js';
import { BadReference } from '../../vocab/errors.js';
import { lockOf, writeLock, type LockUse } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { newFile, installFd, fileLabel } from '../fs/file.js';
import { containerPut } from './container.js';
import { argObject } from './uapi.js';
import type { Policy } from '../../schemes/policies/index.js';

/**
 * group.c:vfio_group_fops_open, under group->group_lock. No such character device: the group
 * was never created, or cdev_device_del removed it (vfio_main.c:vfio_device_remove_group), or
 * noiommu mode is off (no noiommu group exists).
 */
export function openGroup(tx: Tx, p: Process, path: string, key: string): Outcome {
  const g = tx.world.groups.get(key);
  if (g === undefined || (g.noiommu && !tx.policy.noiommu)) tx.fail('ENOENT', `${path}: no such device node`);
  if (g.state === 'removed') tx.fail('ENOENT', 'vfio_main.c:vfio_device_remove_group: cdev_device_del removed the node');
  if (g.noiommu && !p.capSysRawio) tx.fail('EPERM', 'group.c:vfio_group_fops_open: noiommu group && !capable(CAP_SYS_RAWIO)');
  if (g.file !== null) tx.fail('EBUSY', 'group.c:vfio_group_fops_open: group->opened_file already set');
  const f = newFile(tx, 'group', { group: g.key });
  g.file = f.id;
  tx.fire('group', g.key, g, 'OPEN');
  const fd = installFd(p, f.id);
  tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
  return { ret: BigInt(fd), decidedBy: 'group.c:vfio_group_fops_open' };
}

/** group.c:vfio_group_fops_unl_ioctl. */
export function groupIoctl(tx: Tx, p: Process, g: Group, s: StimulusOf<'ioctl'>): Outcome {
  switch (s.cmd) {
    case 'VFIO_GROUP_GET_STATUS':
      return groupGetStatus(tx, g, s);
    case 'VFIO_GROUP_SET_CONTAINER':
      return groupSetContainer(tx, p, g, s);
    case 'VFIO_GROUP_UNSET_CONTAINER':
      return groupUnsetContainer(tx, g);
    case 'VFIO_GROUP_GET_DEVICE_FD':
      return groupGetDeviceFd(tx, p, g, s);
  }
  return tx.fail('ENOTTY', 'group.c:vfio_group_fops_unl_ioctl: unknown ioctl');
}

/** sizeof(struct vfio_group_status): argsz, flags. */
const GROUP_STATUS_MINSZ = 8;

function groupGetStatus(tx: Tx, g: Group, s: StimulusOf<'ioctl'>): Outcome {
  if (s.argsz !== undefined && s.argsz < GROUP_STATUS_MINSZ) tx.fail('EINVAL', 'group.c:vfio_group_ioctl_get_status: argsz < minsz');
  if (!g.iommuGroupPresent) tx.fail('ENODEV', 'group.c:vfio_group_ioctl_get_status: !group->iommu_group');
  // With a container set: CONTAINER_SET | VIABLE. Otherwise VIABLE iff DMA ownership is not
  // claimed by a kernel driver; every device of a declared group is bound to vfio.
  const flags = g.container !== null ? ['VIABLE', 'CONTAINER_SET'] : ['VIABLE'];
  return { ret: 0n, out: { flags }, decidedBy: 'group.c:vfio_group_ioctl_get_status' };
}

/** VFIO_GROUP_SET_CONTAINER's `arg: {fd}`: the int the kernel reads (`get_user(fd, arg)`; a negative one fails fdget). */
export function fdArg(s: StimulusOf<'ioctl'>): number {
  const fd = argObject(s, ['fd'])['fd'];
  if (typeof fd !== 'number' || !Number.isSafeInteger(fd)) throw new BadReference('arg.fd', 'expected {"fd": <container fd>}');
  return fd;
}

/** VFIO_GROUP_GET_DEVICE_FD's `arg: {name}`: the string the kernel copies (strndup_user). */
export function nameArg(s: StimulusOf<'ioctl'>): string {
  const name = argObject(s, ['name'])['name'];
  if (typeof name !== 'string') throw new BadReference('arg.name', 'expected {"name": "<device>"}');
  return name;
}

/** group.c:vfio_group_ioctl_set_container -> container.c:vfio_container_attach_group. */
function groupSetContainer(tx: Tx, p: Process, g: Group, s: StimulusOf<'ioctl'>): Outcome {
  const fd = fdArg(s);
  const fileId = p.fds.get(fd);
  if (fileId === undefined) tx.fail('EBADF', 'group.c:vfio_group_ioctl_set_container: fdget(fd) failed');
  // under group->group_lock:
  if (g.container !== null) tx.fail('EINVAL', 'group.c:vfio_group_ioctl_set_container: group already has a container');
  if (!g.iommuGroupPresent) tx.fail('ENODEV', 'group.c:vfio_group_ioctl_set_container: !group->iommu_group');
  const f = fileOf(tx.world, fileId);
  if (f.kind !== 'container') tx.fail('EBADFD', 'group.c:vfio_group_ioctl_set_container: fd is not a container (or iommufd)');
  const c = containerOf(tx.world, f.container!);
  // container.c:vfio_container_attach_group
  if (g.noiommu && !p.capSysRawio) tx.fail('EPERM', 'container.c:vfio_container_attach_group: noiommu group && !capable(CAP_SYS_RAWIO)');
  // down_write(&container->group_lock)
  if (c.groups.length > 0 && c.noiommu !== g.noiommu) tx.fail('EPERM', 'container.c:vfio_container_attach_group: noiommu and iommu groups cannot share a container');
  // iommu_group_claim_dma_owner: the group's devices are all bound to vfio here, so it succeeds.
  if (c.type1 !== null) attachGroup(tx, c, g);
  assertHeld(tx, lockOf.group(g.key), `group ${g.key}'s container`); // container.c:vfio_container_attach_group: lockdep_assert_held(&group->group_lock)
  assertHeld(tx, lockOf.containerGroups(c.id), `container ${c.id}'s group_list`, 'write'); // vfio_container_attach_group: down_write(&container->group_lock) around list_add
  g.container = c.id;
  g.containerUsers = 1;
  c.noiommu = g.noiommu;
  c.groups.push(g.key);
  c.refs += 1; // vfio_container_get
  tx.fire('group', g.key, g, 'SET_CONTAINER');
  tx.emit('group.attached', { group: g.key, container: c.id });
  return { ret: 0n, decidedBy: 'container.c:vfio_container_attach_group' };
}

/** group.c:vfio_group_ioctl_unset_container. */
function groupUnsetContainer(tx: Tx, g: Group): Outcome {
  if (g.container === null) tx.fail('EINVAL', 'group.c:vfio_group_ioctl_unset_container: no container');
  if (g.containerUsers !== 1) tx.fail('EBUSY', 'group.c:vfio_group_ioctl_unset_container: container_users != 1 (devices open)');
  tx.fire('group', g.key, g, 'UNSET_CONTAINER');
  return { ret: 0n, decidedBy: 'group.c:vfio_group_ioctl_unset_container' };
}

/** group.c:vfio_group_ioctl_get_device_fd -> vfio_device_open_file -> vfio_df_group_open. */
function groupGetDeviceFd(tx: Tx, p: Process, g: Group, s: StimulusOf<'ioctl'>): Outcome {
  const name = nameArg(s);
  // vfio_device_get_from_name: by name within the group; takes a registration reference,
  // which fails once vfio_unregister_group_dev has put the registration.
  const d = tx.world.devices.get(name);
  if (d === undefined || d.group !== g.key || d.state === 'unregistering' || d.state === 'released' || d.state === 'removed') {
    tx.fail('ENODEV', 'group.c:vfio_group_ioctl_get_device_fd: no device of that name in the group');
  }
  // vfio_df_group_open, under group->group_lock then dev_set->lock:
  if (g.container === null) tx.fail('EINVAL', 'group.c:vfio_df_group_open: group has no container or iommufd');
  const c = containerOf(tx.world, g.container);
  if (d.openCount === 0) {
    // vfio_device_first_open -> vfio_device_group_use_iommu -> vfio_group_use_container
    if (c.state !== 'type1' && c.state !== 'noiommu') tx.fail('EINVAL', 'group.c:vfio_group_use_container: !container->iommu_driver');
    if (g.noiommu && !p.capSysRawio) tx.fail('EPERM', 'group.c:vfio_group_use_container: noiommu && !capable(CAP_SYS_RAWIO)');
  }
  const first = d.openCount === 0;
  assertHeld(tx, lockOf.devSet(d.name), `device ${d.name}'s open_count`); // vfio_main.c:vfio_df_open: lockdep_assert_held(&device->dev_set->lock)
  d.openCount += 1;
  d.registrations += 1;
  const f = newFile(tx, 'device', { device: d.name });
  if (first) {
    // vfio_group_use_container: get_file(group->opened_file), container_users++.
    fileOf(tx.world, g.file!).refs += 1;
    assertHeld(tx, lockOf.group(g.key), `group ${g.key}'s container_users`); // container.c:vfio_group_use_container: lockdep_assert_held(&group->group_lock)
    g.containerUsers += 1;
    // vfio_device_container_register: type1 adds devices with a dma_unmap op (mdevs).
    if (d.mdev && c.type1 !== null) assertDeviceListLocked(tx, c); // vfio_device_container_register -> vfio_iommu_type1_register_device
    if (d.mdev && c.type1 !== null) c.type1.deviceList.push(d.name);
    // vfio_pci_core_enable: pci_enable_device sets PCI_COMMAND_MEMORY, vfio_config_init copies
    // it into vconfig.
    if (!d.mdev) d.memoryEnabled = true;
    // vfio_pci_core_enable: pci_clear_master ("Don't allow our initial saved state to include
    // busmaster"); the user's driver sets it again through the config region, which the model
    // does not model: an open device is a bus master.
    if (!d.mdev) d.busMaster = true;
    tx.fire('device', d.name, d, 'OPEN_FIRST');
  }
  const fd = installFd(p, f.id);
  tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
  return { ret: BigInt(fd), decidedBy: 'group.c:vfio_group_ioctl_get_device_fd' };
}

/**
 * group.c:vfio_group_fops_release: detach the container if set, clear opened_file. A device file
 * holds a group file reference, so this runs only once no device of the group is open.
 */
function releaseGroupFile(tx: Tx, key: string): void {
  const g = groupOf(tx.world, key);
  g.file = null;
  tx.fire('group', g.key, g, 'RELEASE');
}

/**
 * group.c:vfio_group_detach_container (run as the group machine's detachContainer action):
 * ops->detach_group, release DMA ownership, unlink; if it was the last group, ops->release
 * (type1: unmap and unpin everything), then vfio_container_put.
 */
export function detachContainer(tx: Tx, g: Group): void {
  const c = containerOf(tx.world, g.container!);
  tx.cascade('group.detached', { group: g.key, container: c.id }, () => {
    assertHeld(tx, lockOf.group(g.key), `group ${g.key}'s container`); // container.c:vfio_group_detach_container: lockdep_assert_held(&group->group_lock)
    assertHeld(tx, lockOf.containerGroups(c.id), `container ${c.id}'s group_list`, 'write'); // vfio_group_detach_container: down_write(&container->group_lock) around list_del
    if (c.type1 !== null) detachGroup(tx, c, g);
    c.groups = c.groups.filter((k) => k !== g.key);
    g.container = null;
    g.containerUsers = 0;
    if (c.groups.length === 0 && c.state !== 'noDriver') {
      tx.fire('container', String(c.id), c, 'LAST_GROUP_DETACHED');
    }
    containerPut(tx, c);
  });
}

/**
 * The group file's f_op. vfio_group_fops_release takes group->group_lock, and detaching the
 * container takes container->group_lock (write) and type1's iommu->lock, whose unmap uncharges
 * the live mms under their mmap_lock (vfio_lock_acct).
 */
export const GROUP_FOPS: FileOps = {
  releaseLocks: (w, f) => {
    const g = w.groups.get(f.group!)!;
    return [writeLock(lockOf.group(g.key)), ...containerLocks(w, g.container === null ? undefined : w.containers.get(g.container), true)];
  },
  release: (tx, f) => releaseGroupFile(tx, f.group!),
};

/**
 * container->group_lock (write), then type1's iommu->lock; when the last group detaches, the
 * unmap of everything uncharges each live mm under its mmap_lock (vfio_lock_acct).
 */
export function containerLocks(w: World, c: Container | undefined, detaching: boolean): LockUse[] {
  if (c === undefined) return [];
  if (c.type1 === null) return [writeLock(lockOf.containerGroups(c.id))];
  return [writeLock(lockOf.containerGroups(c.id)), writeLock(lockOf.iommu(c.id)), ...(detaching && c.groups.length === 1 ? unchargeLocks(w, c.type1.dmas.valuesArray()) : [])];
}

/** The locks of a group ioctl, in the kernel's order (group->group_lock first). */
export function groupIoctlLocks(w: World, p: Process, g: Group, s: StimulusOf<'ioctl'>, policy: Policy): LockUse[] {
  const groupLock = writeLock(lockOf.group(g.key));
  if (s.cmd === 'VFIO_GROUP_SET_CONTAINER') {
    const fd = typeof s.arg === 'object' && s.arg !== null ? (s.arg as { fd?: number }).fd ?? -1 : -1;
    const id = p.fds.get(fd);
    const target = id === undefined ? undefined : w.files.get(id);
    return [groupLock, ...containerLocks(w, target?.kind === 'container' ? w.containers.get(target.container!) : undefined, false)];
  }
  if (s.cmd === 'VFIO_GROUP_UNSET_CONTAINER') return [groupLock, ...containerLocks(w, g.container === null ? undefined : w.containers.get(g.container), true)];
  if (s.cmd === 'VFIO_GROUP_GET_DEVICE_FD') {
    const name = typeof s.arg === 'object' && s.arg !== null ? (s.arg as { name?: unknown }).name : undefined;
    const d = typeof name === 'string' ? w.devices.get(name) : undefined;
    if (d === undefined) return [groupLock];
    // the first open of an mdev registers it in type1's device_list (vfio_df_device_first_open ->
    // vfio_device_container_register -> vfio_iommu_type1_register_device), under dev_set->lock
    const c = g.container === null ? undefined : w.containers.get(g.container);
    const registers = d.mdev && d.openCount === 0 && d.group === g.key && c?.type1 != null;
    return [groupLock, writeLock(lockOf.devSet(d.name)), ...(registers ? deviceListLocks(c!, policy) : [])];
  }
  return [];
}
