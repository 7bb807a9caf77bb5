/**
 * Files and fds: open, close and release of container, group and device files, and the
 * container and group ioctls (drivers/vfio/container.c, drivers/vfio/group.c,
 * drivers/vfio/vfio_main.c). Checks run in the kernel's order with the kernel's errno.
 */
import type { StimulusOf } from '../../vocab/records.js';
import type { Scheme } from '../../schemes/scheme.js';
import { hex } from '../../log/u64.js';
import { containerOf, deviceOf, fdFile, fileOf, groupOf, processOf } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { type Outcome, type Tx } from '../../core/tx.js';
import { newId, type Container, type Group, type OpenFile, type Process, type World } from '../../core/world.js';
import { runActions } from '../actions.js';
import * as type1 from './type1.js';
import { deviceIoctl, releaseDeviceFile } from './pci.js';
import { BadReference } from '../../vocab/errors.js';

/** VFIO_API_VERSION in include/uapi/linux/vfio.h. */
const VFIO_API_VERSION = 0n;

/** fs/file.c:alloc_fd(): the lowest free fd. Fds 0-2 are taken at spawn. */
export function installFd(p: Process, file: number): number {
  let fd = 0;
  while (p.fds.has(fd)) fd += 1;
  p.fds.set(fd, file);
  return fd;
}

function newFile(tx: Tx, kind: OpenFile['kind'], ref: { container?: number; group?: string; device?: string }): OpenFile {
  const f: OpenFile = { id: newId(tx.world), kind, refs: 1, ...ref };
  tx.world.files.set(f.id, f);
  return f;
}

function fileLabel(f: OpenFile): string {
  if (f.kind === 'container') return `container#${f.container}`;
  if (f.kind === 'group') return `group:${f.group}`;
  if (f.kind === 'tty') return 'tty';
  return `device:${f.device}`;
}

/** SPEC 1.3 `open`: vfio_fops_open / vfio_group_fops_open. */
export function open(tx: Tx, s: StimulusOf<'open'>): Outcome {
  const p = processOf(tx.world, s.pid);
  if (s.path === '/dev/vfio/vfio') {
    // container.c:vfio_fops_open: a new container, kref = 1; the node is mode 0666.
    const c: Container = { id: newId(tx.world), state: initialState('container'), groups: [], refs: 1, noiommu: false, type1: null };
    tx.world.containers.set(c.id, c);
    const f = newFile(tx, 'container', { container: c.id });
    const fd = installFd(p, f.id);
    tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
    return { ret: BigInt(fd), decidedBy: 'container.c:vfio_fops_open' };
  }
  const m = /^\/dev\/vfio\/(noiommu-)?(\d+)$/.exec(s.path);
  if (m === null) throw new BadReference('path', `'${s.path}' is not /dev/vfio/vfio, /dev/vfio/<group> or /dev/vfio/noiommu-<n>`);
  const key = m[1] === undefined ? m[2]! : `noiommu-${m[2]}`;
  const g = tx.world.groups.get(key);
  // No such character device: the group was never created, or cdev_device_del removed it
  // (vfio_main.c:vfio_device_remove_group), or noiommu mode is off (no noiommu group exists).
  if (g === undefined || (g.noiommu && !tx.scheme.noiommuEnabled)) tx.fail('ENOENT', `${s.path}: no such device node`);
  if (g.state === 'removed') tx.fail('ENOENT', 'vfio_main.c:vfio_device_remove_group: cdev_device_del removed the node');
  // group.c:vfio_group_fops_open, under group->group_lock:
  if (g.noiommu && !p.capSysRawio) tx.fail('EPERM', 'group.c:vfio_group_fops_open: noiommu group && !capable(CAP_SYS_RAWIO)');
  if (g.file !== null) tx.fail('EBUSY', 'group.c:vfio_group_fops_open: group->opened_file already set');
  const f = newFile(tx, 'group', { group: g.key });
  g.file = f.id;
  tx.fire('group', g.key, g, 'OPEN');
  const fd = installFd(p, f.id);
  tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
  return { ret: BigInt(fd), decidedBy: 'group.c:vfio_group_fops_open' };
}

/** SPEC 1.3 `close`: fs/open.c:close_fd, then fput. */
export function close(tx: Tx, s: StimulusOf<'close'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const id = p.fds.get(s.fd);
  if (id === undefined) tx.fail('EBADF', 'fs/file.c:close_fd: fd is not open');
  p.fds.delete(s.fd);
  fput(tx, id);
  return { ret: 0n, decidedBy: 'fs/file.c:close_fd' };
}

/**
 * fs/file_table.c:fput(): drop one reference. The last one's release (____fput) is deferred to
 * task_work, which runs before the syscall returns to user space (or in exit_task_work): never
 * under the locks of the path that dropped it. Without a task (set-up), it runs at once.
 */
export function fput(tx: Tx, fileId: number): void {
  const f = fileOf(tx.world, fileId);
  f.refs -= 1;
  if (f.refs > 0) return;
  if (f.kind === 'tty') {
    tx.world.files.delete(f.id);
    return;
  }
  if (tx.task !== null) {
    tx.task.deferred.push(f.id);
    return;
  }
  releaseFile(tx, f.id);
}

/** ____fput: the file's ->release. */
export function releaseFile(tx: Tx, fileId: number): void {
  const f = fileOf(tx.world, fileId);
  tx.world.files.delete(f.id);
  tx.cascade('file.released', { file: fileLabel(f) }, () => {
    if (f.kind === 'container') releaseContainerFile(tx, f.container!);
    else if (f.kind === 'group') releaseGroupFile(tx, f.group!);
    else releaseDeviceFile(tx, f);
  });
}

/**
 * The locks a deferred file release takes, in the kernel's order. A device file:
 * vfio_device_group_close takes group->group_lock then dev_set->lock (its fput of the group file
 * is deferred again). A group file: vfio_group_fops_release takes group->group_lock, and
 * detaching the container takes container->group_lock (write) and type1's iommu->lock, whose
 * unmap uncharges live mms under mmap_lock (vfio_lock_acct).
 */
export function releaseLocks(w: World, fileId: number, scheme: Scheme): Array<{ lock: string; mode: 'read' | 'write' }> {
  const f = w.files.get(fileId);
  if (f === undefined) return [];
  if (f.kind === 'device') {
    const d = w.devices.get(f.device!);
    if (d === undefined) return [];
    const last = d.openCount === 1;
    return [
      { lock: `group.group_lock#${d.group}`, mode: 'write' },
      { lock: `dev_set.lock#${d.name}`, mode: 'write' },
      // vfio_pci_core_disable resets the function; in a hotplug slot the reset goes through
      // pciehp_reset_slot, which takes the slot's reset_lock for write
      ...(last && d.hotplug ? [{ lock: `reset_lock#${d.name}`, mode: 'write' as const }] : []),
      // vma-link / dma-buf schemes: the close tears down the BAR's linked IOMMU mappings
      ...(last ? d.linked.map((l) => ({ lock: linkLockId(scheme, l), mode: 'write' as const })) : []),
    ];
  }
  if (f.kind !== 'group') return [];
  const g = w.groups.get(f.group!)!;
  const out: Array<{ lock: string; mode: 'read' | 'write' }> = [{ lock: `group.group_lock#${g.key}`, mode: 'write' }];
  const c = g.container === null ? undefined : w.containers.get(g.container);
  if (c !== undefined) {
    out.push({ lock: `container.group_lock#${c.id}`, mode: 'write' });
    if (c.type1 !== null) {
      out.push({ lock: `iommu.lock#${c.id}`, mode: 'write' });
      const mms = new Set<number>();
      if (c.groups.length === 1) for (const d of c.type1.dmas.valuesArray()) if (d.lockedVm > 0 && w.mms.get(d.mm)?.state === 'live') mms.add(d.mm);
      for (const mm of [...mms].sort((a, b) => a - b)) out.push({ lock: `mmap_lock#${mm}`, mode: 'write' });
    }
  }
  return out;
}

/** The lock a linked BAR mapping is torn down under (see src/kernel/mm/mmu_notifier.ts). */
function linkLockId(scheme: Scheme, l: { container: number; iova: bigint }): string {
  return scheme.pfnmap === 'dmabuf' ? `dma_resv#${l.container}@${hex(l.iova)}` : `iommu.lock#${l.container}`;
}

/** container.c:vfio_fops_release -> vfio_container_put. Nothing is unmapped while groups remain. */
function releaseContainerFile(tx: Tx, id: number): void {
  containerPut(tx, containerOf(tx.world, id));
}

export function containerPut(tx: Tx, c: Container): void {
  c.refs -= 1;
  if (c.refs === 0) {
    tx.fire('container', String(c.id), c, 'LAST_REF_DROPPED');
    tx.world.containers.delete(c.id);
  }
}

/**
 * group.c:vfio_group_fops_release: detach the container if set, clear opened_file. A device file
 * holds a group file reference, so this runs only once no device of the group is open.
 */
function releaseGroupFile(tx: Tx, key: string): void {
  const g = groupOf(tx.world, key);
  g.file = null;
  runActions(tx, 'group', g.key, tx.fire('group', g.key, g, 'RELEASE'));
}

/**
 * group.c:vfio_group_detach_container (run as the group machine's detachContainer action):
 * ops->detach_group, release DMA ownership, unlink; if it was the last group, ops->release
 * (type1: unmap and unpin everything), then vfio_container_put.
 */
export function detachContainer(tx: Tx, g: Group): void {
  const c = containerOf(tx.world, g.container!);
  tx.cascade('group.detached', { group: g.key, container: c.id }, () => {
    if (c.type1 !== null) type1.detachGroup(tx, c, g);
    c.groups = c.groups.filter((k) => k !== g.key);
    g.container = null;
    g.containerUsers = 0;
    if (c.groups.length === 0 && c.state !== 'noDriver') {
      runActions(tx, 'container', String(c.id), tx.fire('container', String(c.id), c, 'LAST_GROUP_DETACHED'));
    }
    containerPut(tx, c);
  });
}

/** The container machine's releaseIommu action: ops->release(iommu_data). */
export function releaseIommu(tx: Tx, c: Container): void {
  if (c.type1 !== null) type1.release(tx, c);
  c.type1 = null;
  c.noiommu = false;
}

/** SPEC 1.3 `ioctl`: dispatched by the kind of file behind the fd. */
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

/** The extension names of VFIO_CHECK_EXTENSION the model knows (include/uapi/linux/vfio.h). */
const EXTENSIONS = new Set([
  'VFIO_TYPE1_IOMMU',
  'VFIO_TYPE1v2_IOMMU',
  'VFIO_NOIOMMU_IOMMU',
  'VFIO_UNMAP_ALL',
  'VFIO_UPDATE_VADDR',
  'VFIO_DMA_CC_IOMMU',
  'VFIO_TYPE1_NESTING_IOMMU',
  'VFIO_SPAPR_TCE_IOMMU',
  'VFIO_EEH',
]);

function extensionArg(s: StimulusOf<'ioctl'>): string {
  if (typeof s.arg !== 'string' || !EXTENSIONS.has(s.arg)) {
    throw new BadReference('arg', `expected an extension name (${[...EXTENSIONS].join(', ')})`);
  }
  return s.arg;
}

/** container.c:vfio_fops_unl_ioctl. */
function containerIoctl(tx: Tx, p: Process, c: Container, s: StimulusOf<'ioctl'>): Outcome {
  switch (s.cmd) {
    case 'VFIO_GET_API_VERSION':
      return { ret: VFIO_API_VERSION, decidedBy: 'container.c:vfio_fops_unl_ioctl: VFIO_API_VERSION' };
    case 'VFIO_CHECK_EXTENSION':
      return checkExtension(tx, c, extensionArg(s));
    case 'VFIO_SET_IOMMU':
      return setIommu(tx, p, c, extensionArg(s));
  }
  // Any other ioctl goes to the driver; with none set, -EINVAL (vfio_ioctl_... default).
  if (c.state === 'noDriver') {
    tx.fail('EINVAL', 'container.c:vfio_fops_unl_ioctl: no iommu driver set');
  }
  if (c.state === 'noiommu') {
    // vfio-noiommu's ioctl handles only CHECK_EXTENSION; everything else is -ENOTTY.
    tx.fail('ENOTTY', 'container.c:vfio_noiommu_ioctl: no DMA map ioctls');
  }
  return type1.ioctl(tx, c, s);
}

/** Every ioctl name a log may use (SPEC 1.3). */
const OTHER_CMDS = new Set([
  'VFIO_GET_API_VERSION',
  'VFIO_CHECK_EXTENSION',
  'VFIO_SET_IOMMU',
  'VFIO_GROUP_GET_STATUS',
  'VFIO_GROUP_SET_CONTAINER',
  'VFIO_GROUP_UNSET_CONTAINER',
  'VFIO_GROUP_GET_DEVICE_FD',
  'VFIO_DEVICE_RESET',
  'VFIO_DEVICE_BIND_TASK',
  'VFIO_DEVICE_UNBIND_TASK',
]);

export function isKnownCmd(cmd: string): boolean {
  return OTHER_CMDS.has(cmd) || type1.TYPE1_IOCTLS.has(cmd);
}

/**
 * container.c:vfio_container_ioctl_check_extension: with no driver, poll every registered
 * driver that is allowed (noiommu and real drivers do not mix once groups are attached) and
 * return the first positive answer; with a driver, pass it through.
 */
function checkExtension(tx: Tx, c: Container, ext: string): Outcome {
  const decidedBy = 'container.c:vfio_container_ioctl_check_extension';
  const noiommuAnswer = (): bigint => (ext === 'VFIO_NOIOMMU_IOMMU' && tx.scheme.noiommuEnabled ? 1n : 0n);
  if (c.state === 'type1') return { ret: type1.checkExtension(c, ext), decidedBy: 'vfio_iommu_type1.c:vfio_iommu_type1_check_extension' };
  if (c.state === 'noiommu') return { ret: noiommuAnswer(), decidedBy: 'container.c:vfio_noiommu_ioctl' };
  // vfio_iommu_driver_allowed(): once a noiommu group is attached only vfio-noiommu answers,
  // and once a real group is attached vfio-noiommu does not.
  const onlyNoiommu = c.groups.length > 0 && c.noiommu;
  const noNoiommu = c.groups.length > 0 && !c.noiommu;
  const t1 = onlyNoiommu ? 0n : type1.checkExtension(null, ext);
  if (t1 > 0n) return { ret: t1, decidedBy };
  return { ret: noNoiommu ? 0n : noiommuAnswer(), decidedBy };
}

/** container.c:vfio_ioctl_set_iommu, under down_write(container->group_lock). */
function setIommu(tx: Tx, p: Process, c: Container, arg: string): Outcome {
  if (c.groups.length === 0 || c.state !== 'noDriver') {
    tx.fail('EINVAL', 'container.c:vfio_ioctl_set_iommu: group_list empty or iommu driver already set');
  }
  // Drivers are tried in registration order; each is skipped unless allowed and its
  // CHECK_EXTENSION(arg) is positive. ret starts at -ENODEV.
  if (!c.noiommu && (arg === 'VFIO_TYPE1_IOMMU' || arg === 'VFIO_TYPE1v2_IOMMU')) {
    // vfio_iommu_type1_open, then __vfio_container_attach_groups (type1 attach for each group).
    const v2 = arg === 'VFIO_TYPE1v2_IOMMU';
    c.type1 = type1.open(v2);
    try {
      for (const key of c.groups) type1.attachGroup(tx, c, groupOf(tx.world, key));
    } catch (e) {
      // __vfio_container_attach_groups unwinds and ops->release(data); ret = that error.
      c.type1 = null;
      throw e;
    }
    tx.fire('container', String(c.id), c, 'SET_IOMMU_TYPE1');
    tx.emit('iommu.opened', { container: c.id, driver: v2 ? 'type1v2' : 'type1' });
    return { ret: 0n, decidedBy: 'container.c:vfio_ioctl_set_iommu' };
  }
  if (c.noiommu && arg === 'VFIO_NOIOMMU_IOMMU' && tx.scheme.noiommuEnabled) {
    // container.c:vfio_noiommu_open: -EPERM without CAP_SYS_RAWIO.
    if (!p.capSysRawio) tx.fail('EPERM', 'container.c:vfio_noiommu_open: !capable(CAP_SYS_RAWIO)');
    tx.fire('container', String(c.id), c, 'SET_IOMMU_NOIOMMU');
    tx.emit('iommu.opened', { container: c.id, driver: 'noiommu' });
    return { ret: 0n, decidedBy: 'container.c:vfio_ioctl_set_iommu' };
  }
  return tx.fail('ENODEV', 'container.c:vfio_ioctl_set_iommu: no driver claimed the type');
}

/** group.c:vfio_group_fops_unl_ioctl. */
function groupIoctl(tx: Tx, p: Process, g: Group, s: StimulusOf<'ioctl'>): Outcome {
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

function fdArg(s: StimulusOf<'ioctl'>): number {
  const a = s.arg as { fd?: unknown } | undefined;
  if (typeof a !== 'object' || a === null || typeof a.fd !== 'number' || !Number.isSafeInteger(a.fd)) {
    throw new BadReference('arg.fd', 'expected {"fd": <container fd>}');
  }
  for (const k of Object.keys(a)) if (k !== 'fd') throw new BadReference(`arg.${k}`, 'unknown field');
  return a.fd;
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
  if (c.type1 !== null) type1.attachGroup(tx, c, g);
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
  runActions(tx, 'group', g.key, tx.fire('group', g.key, g, 'UNSET_CONTAINER'));
  return { ret: 0n, decidedBy: 'group.c:vfio_group_ioctl_unset_container' };
}

/** group.c:vfio_group_ioctl_get_device_fd -> vfio_device_open_file -> vfio_df_group_open. */
function groupGetDeviceFd(tx: Tx, p: Process, g: Group, s: StimulusOf<'ioctl'>): Outcome {
  const a = s.arg as { name?: unknown } | undefined;
  if (typeof a !== 'object' || a === null || typeof a.name !== 'string') throw new BadReference('arg.name', 'expected {"name": "<device>"}');
  for (const k of Object.keys(a)) if (k !== 'name') throw new BadReference(`arg.${k}`, 'unknown field');
  // vfio_device_get_from_name: by name within the group; takes a registration reference,
  // which fails once vfio_unregister_group_dev has put the registration.
  const d = tx.world.devices.get(a.name);
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
  d.openCount += 1;
  d.registrations += 1;
  const f = newFile(tx, 'device', { device: d.name });
  if (first) {
    // vfio_group_use_container: get_file(group->opened_file), container_users++.
    fileOf(tx.world, g.file!).refs += 1;
    g.containerUsers += 1;
    // vfio_device_container_register: type1 adds devices with a dma_unmap op (mdevs).
    if (d.mdev && c.type1 !== null) c.type1.deviceList.push(d.name);
    // vfio_pci_core_enable: pci_enable_device sets PCI_COMMAND_MEMORY, vfio_config_init copies
    // it into vconfig.
    if (!d.mdev) d.memoryEnabled = true;
    tx.fire('device', d.name, d, 'OPEN_FIRST');
  }
  const fd = installFd(p, f.id);
  tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
  return { ret: BigInt(fd), decidedBy: 'group.c:vfio_group_ioctl_get_device_fd' };
}
