/**
 * The entry points of /dev/vfio: `open` by path (the container node or a group node) and
 * `ioctl` by the kind of file behind the fd, as the char devices' f_op->open and
 * ->unlocked_ioctl dispatch (drivers/vfio/container.c, group.c, vfio_main.c).
 */

import { processOf, fdFile, containerOf, groupOf, deviceOf, fileOf } from '../../core/lookup.js';
import { Tx, type Outcome } from '../../core/tx.js';
import type { Process, Container, World } from '../../core/world.js';
import { BadReference, showValue } from '../../vocab/errors.js';
import { lockOf, writeLock, type LockUse } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { openContainer, containerIoctlLocks, containerIoctl, extensionArg } from './container.js';
import { deviceIoctl, unbindTaskArg } from './device.js';
import { openGroup, groupIoctlLocks, groupIoctl, fdArg, nameArg } from './group.js';
import { dmaArg, MAP_FIELDS, MAP_FLAGS, UNMAP_FIELDS, UNMAP_FLAGS } from './type1/args.js';
import type { Policy } from '../../schemes/policies/index.js';
import { actingFeature, featureArg } from './pci/pm.js';

/** The `open` stimulus: /dev/vfio/vfio is vfio_fops_open; /dev/vfio/<group> vfio_group_fops_open. */
export function open(tx: Tx, s: StimulusOf<'open'>): Outcome {
  const p = processOf(tx.world, s.pid);
  if (s.path === '/dev/vfio/vfio') return openContainer(tx, p);
  const m = /^\/dev\/vfio\/(noiommu-)?(\d+)$/.exec(s.path);
  if (m === null) throw new BadReference('path', `${showValue(s.path)} is not /dev/vfio/vfio, /dev/vfio/<group> or /dev/vfio/noiommu-<n>`);
  return openGroup(tx, p, s.path, m[1] === undefined ? m[2]! : `noiommu-${m[2]}`);
}

/** The `ioctl` stimulus: dispatched by the kind of file behind the fd. */
export function ioctl(tx: Tx, s: StimulusOf<'ioctl'>): Outcome {
  const p = processOf(tx.world, s.pid);
  checkIoctlArgs(s);
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
  checkIoctlArgs(s);
  const id = p.fds.get(s.fd);
  const f = id === undefined ? undefined : fileOf(tx.world, id);
  if (f?.kind !== 'container') return null;
  const c = containerOf(tx.world, f.container!);
  return c.state === 'type1' ? { p, c } : null;
}

/** What an ioctl takes from the log (docs/log-format.md, "ioctl commands"). */
interface IoctlArgs {
  /** Checks `arg` (bad input when malformed), or why the ioctl takes none. */
  readonly arg: ((s: StimulusOf<'ioctl'>) => unknown) | { readonly none: string };
  /** The ioctl's struct begins with argsz (its handler checks it against minsz). */
  readonly argsz: boolean;
}

const UNUSED = 'its handler never reads the ioctl argument';
const OUT_ONLY = 'the kernel reads only argsz of its struct (give that as the record\'s "argsz"); the rest is written back (out)';

/**
 * Every ioctl name a log may use (docs/log-format.md, "ioctl commands") and its argument, as the ioctl's handler and uapi
 * struct (include/uapi/linux/vfio.h) take it.
 */
const IOCTLS: Readonly<Record<string, IoctlArgs>> = {
  // container.c:vfio_fops_unl_ioctl: `case VFIO_GET_API_VERSION: ret = VFIO_API_VERSION;`
  VFIO_GET_API_VERSION: { arg: { none: UNUSED }, argsz: false },
  // the extension is the argument itself: vfio_container_ioctl_check_extension(container, arg),
  // vfio_ioctl_set_iommu(container, arg)
  VFIO_CHECK_EXTENSION: { arg: extensionArg, argsz: false },
  VFIO_SET_IOMMU: { arg: extensionArg, argsz: false },
  // group.c:vfio_group_ioctl_get_status: struct vfio_group_status {argsz; flags (out)}
  VFIO_GROUP_GET_STATUS: { arg: { none: OUT_ONLY }, argsz: true },
  // group.c:vfio_group_ioctl_set_container(group, int __user *arg): `get_user(fd, arg)`
  VFIO_GROUP_SET_CONTAINER: { arg: fdArg, argsz: false },
  // group.c:vfio_group_fops_unl_ioctl: `return vfio_group_ioctl_unset_container(group);`
  VFIO_GROUP_UNSET_CONTAINER: { arg: { none: UNUSED }, argsz: false },
  // group.c:vfio_group_ioctl_get_device_fd(group, char __user *arg): `strndup_user(arg, PAGE_SIZE)`
  VFIO_GROUP_GET_DEVICE_FD: { arg: nameArg, argsz: false },
  // vfio_pci_core.c:vfio_pci_ioctl_reset(vdev, arg) does not read arg
  VFIO_DEVICE_RESET: { arg: { none: UNUSED }, argsz: false },
  // vfio_main.c:vfio_ioctl_device_feature: struct vfio_device_feature {argsz, flags (and the feature)}
  VFIO_DEVICE_FEATURE: { arg: featureArg, argsz: true },
  // the 2017 RFC: struct vfio_device_svm {argsz, flags, pasid}
  VFIO_DEVICE_BIND_TASK: { arg: { none: 'it binds the caller\'s mm and writes the PASID back (out.pasid); the model has none of its flags' }, argsz: true },
  VFIO_DEVICE_UNBIND_TASK: { arg: unbindTaskArg, argsz: true },
  // vfio_iommu_type1.c:vfio_iommu_type1_get_info: struct vfio_iommu_type1_info {argsz; flags,
  // iova_pgsizes, cap_offset (out)}
  VFIO_IOMMU_GET_INFO: { arg: { none: OUT_ONLY }, argsz: true },
  VFIO_IOMMU_MAP_DMA: { arg: (s) => dmaArg(s, MAP_FLAGS, MAP_FIELDS), argsz: true },
  VFIO_IOMMU_UNMAP_DMA: { arg: (s) => dmaArg(s, UNMAP_FLAGS, UNMAP_FIELDS), argsz: true },
};

/** Whether a log may name this ioctl (docs/log-format.md, "ioctl commands"). */
export function isKnownCmd(cmd: string): boolean {
  return Object.hasOwn(IOCTLS, cmd);
}

/**
 * Checks an ioctl record's `cmd`, `arg` and `argsz` against what the ioctl takes, before the
 * ioctl is dispatched on its fd, so that a record is bad input whatever file the fd is and
 * whatever the scheme. An ioctl name the model does not know is a typo in the log, not a
 * kernel -ENOTTY; an `arg` for an ioctl that takes none, or an `argsz` for one whose argument
 * is not a struct, would be silently dropped by the kernel and is bad input too.
 */
export function checkIoctlArgs(s: StimulusOf<'ioctl'>): void {
  const spec = isKnownCmd(s.cmd) ? IOCTLS[s.cmd]! : undefined;
  if (spec === undefined) throw new BadReference('cmd', `unknown ioctl ${showValue(s.cmd)}`);
  if (typeof spec.arg === 'function') spec.arg(s);
  else if (s.arg !== undefined) throw new BadReference('arg', `${s.cmd} takes no arg: ${spec.arg.none}`);
  if (!spec.argsz && s.argsz !== undefined) throw new BadReference('argsz', `${s.cmd}'s argument is not a struct: it has no argsz`);
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
