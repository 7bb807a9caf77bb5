/**
 * The entry points of /dev/vfio: `open` by path (the container node or a group node) and
 * `ioctl` by the kind of file behind the fd, as the char devices' f_op->open and
 * ->unlocked_ioctl dispatch (drivers/vfio/container.c, group.c, vfio_main.c).
 */

import { TYPE1_IOCTLS } from './type1/ioctl.js';
import { processOf, fdFile, containerOf, groupOf, deviceOf, fileOf } from '../../core/lookup.js';
import { Tx, type Outcome } from '../../core/tx.js';
import type { Process, Container, World } from '../../core/world.js';
import { BadReference } from '../../vocab/errors.js';
import { lockOf, writeLock, type LockUse } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { openContainer, containerIoctlLocks, containerIoctl } from './container.js';
import { deviceIoctl } from './device.js';
import { openGroup, groupIoctlLocks, groupIoctl } from './group.js';
import type { Policy } from '../../schemes/policies/index.js';
import { actingFeature } from './pci/pm.js';

/** The `open` stimulus: /dev/vfio/vfio is vfio_fops_open; /dev/vfio/<group> vfio_group_fops_open. */
export function open(tx: Tx, s: StimulusOf<'open'>): Outcome {
  const p = processOf(tx.world, s.pid);
  if (s.path === '/dev/vfio/vfio') return openContainer(tx, p);
  const m = /^\/dev\/vfio\/(noiommu-)?(\d+)$/.exec(s.path);
  if (m === null) throw new BadReference('path', `'${s.path}' is not /dev/vfio/vfio, /dev/vfio/<group> or /dev/vfio/noiommu-<n>`);
  return openGroup(tx, p, s.path, m[1] === undefined ? m[2]! : `noiommu-${m[2]}`);
}

/** The `ioctl` stimulus: dispatched by the kind of file behind the fd. */
export function ioctl(tx: Tx, s: StimulusOf<'ioctl'>): Outcome {
  const p = processOf(tx.world, s.pid);
  // An ioctl name the model does not know is a typo in the log, not a kernel -ENOTTY.
  if (!isKnownCmd(s.cmd)) throw new BadReference('cmd', `unknown ioctl '${s.cmd}'`);
  const f = fdFile(tx, p, s.fd);
  if (f.kind === 'container') return containerIoctl(tx, p, containerOf(tx.world, f.container!), s);
  if (f.kind === 'group') return groupIoctl(tx, p, groupOf(tx.world, f.group!), s);
  if (f.kind === 'tty') tx.fail('ENOTTY', 'drivers/tty/tty_io.c:tty_ioctl: not a tty ioctl');
  return deviceIoctl(tx, p, deviceOf(tx.world, f.device!), s);
}

/**
 * The process and type1 container an ioctl reaches, when it reaches type1 (the kernel paths of
 * MAP_DMA and UNMAP_DMA start there); null when vfio_fops_unl_ioctl or the fd decides first, in
 * which case `ioctl` gives the outcome.
 */
export function type1Target(tx: Tx, s: StimulusOf<'ioctl'>): { p: Process; c: Container } | null {
  const p = processOf(tx.world, s.pid);
  if (!isKnownCmd(s.cmd)) throw new BadReference('cmd', `unknown ioctl '${s.cmd}'`);
  const id = p.fds.get(s.fd);
  const f = id === undefined ? undefined : fileOf(tx.world, id);
  if (f?.kind !== 'container') return null;
  const c = containerOf(tx.world, f.container!);
  return c.state === 'type1' ? { p, c } : null;
}

/** Every ioctl name a log may use (docs/log-format.md, ioctl commands). */
const OTHER_CMDS = new Set([
  'VFIO_GET_API_VERSION',
  'VFIO_CHECK_EXTENSION',
  'VFIO_SET_IOMMU',
  'VFIO_GROUP_GET_STATUS',
  'VFIO_GROUP_SET_CONTAINER',
  'VFIO_GROUP_UNSET_CONTAINER',
  'VFIO_GROUP_GET_DEVICE_FD',
  'VFIO_DEVICE_RESET',
  'VFIO_DEVICE_FEATURE',
  'VFIO_DEVICE_BIND_TASK',
  'VFIO_DEVICE_UNBIND_TASK',
]);

export function isKnownCmd(cmd: string): boolean {
  return OTHER_CMDS.has(cmd) || TYPE1_IOCTLS.has(cmd);
}


/** The locks an ioctl that runs as one step takes, by the file behind the fd. */
export function ioctlLocks(w: World, s: StimulusOf<'ioctl'>, policy: Policy): LockUse[] {
  const p = w.processes.get(s.pid);
  const id = p?.fds.get(s.fd);
  const f = id === undefined ? undefined : w.files.get(id);
  if (f?.kind === 'container') {
    const c = w.containers.get(f.container!);
    return c === undefined ? [] : containerIoctlLocks(c, s.cmd);
  }
  if (f?.kind === 'group') {
    const g = w.groups.get(f.group!);
    return g === undefined ? [] : groupIoctlLocks(w, p!, g, s, policy);
  }
  // vfio_pci_runtime_pm_exit: down_write(&vdev->memory_lock) (LOW_POWER_ENTRY is a zap)
  const d = f?.kind === 'device' ? w.devices.get(f.device!) : undefined;
  if (d !== undefined && !d.mdev && actingFeature(s) === 'LOW_POWER_EXIT') return [writeLock(lockOf.memory(d.name))];
  return [];
}
