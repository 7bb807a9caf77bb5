/**
 * The container: /dev/vfio/vfio, its ioctls and its release (drivers/vfio/container.c). Checks
 * run in the kernel's order with the kernel's errno.
 */

import { attachGroup, open as type1Open, release as type1Release } from './type1/attach.js';
import { checkExtension as type1CheckExtension, ioctl as type1Ioctl } from './type1/ioctl.js';
import { groupOf, containerOf } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { Tx, type Outcome, type FileOps } from '../../core/tx.js';
import { type Process, type Container, newId } from '../../core/world.js';
import { BadReference } from '../../vocab/errors.js';
import { type LockUse, lockOf, writeLock } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';
import { newFile, installFd, fileLabel } from '../fs/file.js';

/** container.c:vfio_fops_open: a new container, kref = 1; the node is mode 0666. */
export function openContainer(tx: Tx, p: Process): Outcome {
  const c: Container = { id: newId(tx.world), state: initialState('container'), groups: [], refs: 1, noiommu: false, type1: null };
  tx.world.containers.set(c.id, c);
  const f = newFile(tx, 'container', { container: c.id });
  const fd = installFd(p, f.id);
  tx.emit('file.opened', { pid: p.pid, fd, file: fileLabel(f) });
  return { ret: BigInt(fd), decidedBy: 'container.c:vfio_fops_open' };
}

/** VFIO_API_VERSION in include/uapi/linux/vfio.h. */
const VFIO_API_VERSION = 0n;

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

/** The extension of VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU: the ioctl's argument is the value itself. */
export function extensionArg(s: StimulusOf<'ioctl'>): string {
  if (typeof s.arg !== 'string' || !EXTENSIONS.has(s.arg)) {
    throw new BadReference('arg', `expected an extension name (${[...EXTENSIONS].join(', ')})`);
  }
  return s.arg;
}

/** container.c:vfio_fops_unl_ioctl. */
export function containerIoctl(tx: Tx, p: Process, c: Container, s: StimulusOf<'ioctl'>): Outcome {
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
  return type1Ioctl(tx, c, s);
}

/**
 * container.c:vfio_container_ioctl_check_extension: with no driver, poll every registered
 * driver that is allowed (noiommu and real drivers do not mix once groups are attached) and
 * return the first positive answer; with a driver, pass it through.
 */
function checkExtension(tx: Tx, c: Container, ext: string): Outcome {
  const decidedBy = 'container.c:vfio_container_ioctl_check_extension';
  const noiommuAnswer = (): bigint => (ext === 'VFIO_NOIOMMU_IOMMU' && tx.policy.noiommu ? 1n : 0n);
  if (c.state === 'type1') return { ret: type1CheckExtension(c, ext), decidedBy: 'vfio_iommu_type1.c:vfio_iommu_type1_check_extension' };
  if (c.state === 'noiommu') return { ret: noiommuAnswer(), decidedBy: 'container.c:vfio_noiommu_ioctl' };
  // vfio_iommu_driver_allowed(): once a noiommu group is attached only vfio-noiommu answers,
  // and once a real group is attached vfio-noiommu does not.
  const onlyNoiommu = c.groups.length > 0 && c.noiommu;
  const noNoiommu = c.groups.length > 0 && !c.noiommu;
  const t1 = onlyNoiommu ? 0n : type1CheckExtension(null, ext);
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
    c.type1 = type1Open(v2, !tx.release.has('vfio-dma-unmap-callback'));
    try {
      for (const key of c.groups) attachGroup(tx, c, groupOf(tx.world, key));
    } catch (e) {
      // __vfio_container_attach_groups unwinds and ops->release(data); ret = that error.
      c.type1 = null;
      throw e;
    }
    tx.fire('container', String(c.id), c, 'SET_IOMMU_TYPE1');
    tx.emit('iommu.opened', { container: c.id, driver: v2 ? 'type1v2' : 'type1' });
    return { ret: 0n, decidedBy: 'container.c:vfio_ioctl_set_iommu' };
  }
  if (c.noiommu && arg === 'VFIO_NOIOMMU_IOMMU' && tx.policy.noiommu) {
    // container.c:vfio_noiommu_open: -EPERM without CAP_SYS_RAWIO.
    if (!p.capSysRawio) tx.fail('EPERM', 'container.c:vfio_noiommu_open: !capable(CAP_SYS_RAWIO)');
    tx.fire('container', String(c.id), c, 'SET_IOMMU_NOIOMMU');
    tx.emit('iommu.opened', { container: c.id, driver: 'noiommu' });
    return { ret: 0n, decidedBy: 'container.c:vfio_ioctl_set_iommu' };
  }
  return tx.fail('ENODEV', 'container.c:vfio_ioctl_set_iommu: no driver claimed the type');
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

/** The container machine's releaseIommu action: ops->release(iommu_data). */
export function releaseIommu(tx: Tx, c: Container): void {
  if (c.type1 !== null) type1Release(tx, c);
  c.type1 = null;
  c.noiommu = false;
}

/** The container file's f_op: vfio_fops_release takes no lock the model contends for. */
export const CONTAINER_FOPS: FileOps = {
  releaseLocks: () => [],
  release: (tx, f) => releaseContainerFile(tx, f.container!),
};

/** The locks of a container ioctl that runs as one step (SET_IOMMU, GET_INFO), in order. */
export function containerIoctlLocks(c: Container, cmd: string): LockUse[] {
  // vfio_ioctl_set_iommu: down_write(&container->group_lock); __vfio_container_attach_groups ->
  // vfio_iommu_type1_attach_group: mutex_lock(&iommu->lock) for each group
  if (cmd === 'VFIO_SET_IOMMU') return [writeLock(lockOf.containerGroups(c.id)), writeLock(lockOf.iommu(c.id))];
  if (c.type1 !== null && cmd === 'VFIO_IOMMU_GET_INFO') return [writeLock(lockOf.iommu(c.id))];
  return [];
}
