/**
 * Container and group files: vfio_group_fops_open, the group ioctls (group.c) and the container
 * ioctls (container.c:vfio_fops_unl_ioctl), checks in the kernel's order
 * (container.c vfio_ioctl_set_iommu, group.c vfio_group_fops_unl_ioctl: docs/kernel-notes.md items 3a-3i).
 */
import { describe, expect, it } from 'vitest';
import { CFD, DEV, err, GFD, GROUP, ioctl, mapDma, ok, PID, prefix, probe, VA, type Rec } from './helpers.js';

interface Case {
  readonly name: string;
  readonly records: readonly Rec[];
  readonly errno: string;
  readonly by: string;
}

const host: Rec[] = [
  { op: 'host.device', device: DEV, group: GROUP },
  { op: 'process.spawn', pid: PID, rlimit_memlock: '0x40000000' },
];
const openC: Rec = { op: 'open', pid: PID, path: '/dev/vfio/vfio', ...ok(CFD) };
const openG: Rec = { op: 'open', pid: PID, path: `/dev/vfio/${GROUP}`, ...ok(GFD) };
const setContainer = (fd: number, extra: Rec = ok()): Rec => ioctl(GFD, 'VFIO_GROUP_SET_CONTAINER', { fd }, extra);
const getDeviceFd = (name: string, extra: Rec): Rec => ioctl(GFD, 'VFIO_GROUP_GET_DEVICE_FD', { name }, extra);
const setIommu = (arg: string, extra: Rec): Rec => ioctl(CFD, 'VFIO_SET_IOMMU', arg, extra);
const full = prefix({ mmapLength: 0n });

const cases: Case[] = [
  // open
  {
    name: 'open: fails with ENOENT for a group number that has no device node',
    records: [...host, { op: 'open', pid: PID, path: '/dev/vfio/99', ...err('ENOENT') }],
    errno: 'ENOENT',
    by: 'no such device node',
  },
  {
    name: 'open: refuses a second open of the same group with EBUSY',
    records: [...host, openC, openG, { op: 'open', pid: PID, path: `/dev/vfio/${GROUP}`, ...err('EBUSY') }],
    errno: 'EBUSY',
    by: 'vfio_group_fops_open',
  },
  // SET_CONTAINER
  {
    name: 'SET_CONTAINER: fails with EBADF for an fd that is not open',
    records: [...host, openC, openG, setContainer(9, err('EBADF'))],
    errno: 'EBADF',
    by: 'vfio_group_ioctl_set_container',
  },
  {
    name: 'SET_CONTAINER: fails with EINVAL when the group already has a container',
    records: [...host, openC, openG, setContainer(CFD), setContainer(CFD, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_group_ioctl_set_container: group already has a container',
  },
  {
    name: 'SET_CONTAINER: fails with EBADFD for an fd that is not a container (the group fd itself)',
    records: [...host, openC, openG, setContainer(GFD, err('EBADFD'))],
    errno: 'EBADFD',
    by: 'vfio_group_ioctl_set_container',
  },
  // UNSET_CONTAINER
  {
    name: 'UNSET_CONTAINER: fails with EINVAL when the group has no container',
    records: [...host, openC, openG, ioctl(GFD, 'VFIO_GROUP_UNSET_CONTAINER', undefined, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_group_ioctl_unset_container: no container',
  },
  {
    name: 'UNSET_CONTAINER: fails with EBUSY while a device of the group is open',
    records: [...full, getDeviceFd(DEV, ok(5)), ioctl(GFD, 'VFIO_GROUP_UNSET_CONTAINER', undefined, err('EBUSY'))],
    errno: 'EBUSY',
    by: 'vfio_group_ioctl_unset_container: container_users',
  },
  // GET_DEVICE_FD
  {
    name: 'GET_DEVICE_FD: fails with ENODEV for a device name not in the group',
    records: [...full, getDeviceFd('0000:02:00.0', err('ENODEV'))],
    errno: 'ENODEV',
    by: 'vfio_group_ioctl_get_device_fd',
  },
  {
    name: 'GET_DEVICE_FD: fails with EINVAL when the group has no container',
    records: [...host, openC, openG, getDeviceFd(DEV, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_df_group_open',
  },
  {
    name: 'GET_DEVICE_FD: fails with EINVAL when the container has no iommu driver (SET_IOMMU not done)',
    records: [...host, openC, openG, setContainer(CFD), getDeviceFd(DEV, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_group_use_container',
  },
  // SET_IOMMU
  {
    name: 'SET_IOMMU: fails with EINVAL on a container with no group',
    records: [...host, openC, setIommu('VFIO_TYPE1v2_IOMMU', err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_ioctl_set_iommu',
  },
  {
    name: 'SET_IOMMU: fails with EINVAL when a driver is already set',
    records: [...full, setIommu('VFIO_TYPE1v2_IOMMU', err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_ioctl_set_iommu',
  },
  {
    name: 'SET_IOMMU: fails with ENODEV when no driver claims VFIO_NOIOMMU_IOMMU for a real group',
    records: [...host, openC, openG, setContainer(CFD), setIommu('VFIO_NOIOMMU_IOMMU', err('ENODEV'))],
    errno: 'ENODEV',
    by: 'vfio_ioctl_set_iommu',
  },
  // container ioctls before a driver
  {
    name: 'MAP_DMA before SET_IOMMU fails with EINVAL',
    records: [
      ...host,
      openC,
      openG,
      setContainer(CFD),
      { op: 'mmap', pid: PID, addr: `0x${VA.toString(16)}`, length: '0x1000' },
      mapDma(VA, 0n, 0x1000n, ['READ'], err('EINVAL')),
    ],
    errno: 'EINVAL',
    by: 'vfio_fops_unl_ioctl',
  },
];

describe('group and container ioctls in the kernel order', () => {
  it.each(cases)('$name', ({ records, errno, by }) => {
    const r = probe(records);
    expect(r.last.errno).toBe(errno);
    expect(r.last.decidedBy).toContain(by);
  });
});

describe('container ioctls that answer', () => {
  it('VFIO_GET_API_VERSION returns 0 (VFIO_API_VERSION)', () => {
    const r = probe([...host, openC, ioctl(CFD, 'VFIO_GET_API_VERSION', undefined, ok(0))]);
    expect(r.last.ret).toBe(0n);
    expect(r.last.decidedBy).toContain('vfio_fops_unl_ioctl');
  });

  const noDriver: Array<[string, number]> = [
    ['VFIO_TYPE1_IOMMU', 1],
    ['VFIO_TYPE1v2_IOMMU', 1],
    ['VFIO_UNMAP_ALL', 1],
    ['VFIO_UPDATE_VADDR', 0],
    ['VFIO_DMA_CC_IOMMU', 0],
    ['VFIO_NOIOMMU_IOMMU', 0],
    ['VFIO_SPAPR_TCE_IOMMU', 0],
  ];
  it.each(noDriver)('CHECK_EXTENSION(%s) with no driver set polls the registered drivers and answers %i', (ext, want) => {
    const r = probe([...host, openC, ioctl(CFD, 'VFIO_CHECK_EXTENSION', ext, ok(want))]);
    expect(r.last.ret).toBe(BigInt(want));
    expect(r.last.decidedBy).toContain('vfio_container_ioctl_check_extension');
  });

  const type1: Array<[string, number]> = [
    ['VFIO_TYPE1v2_IOMMU', 1],
    ['VFIO_UPDATE_VADDR', 1],
    ['VFIO_DMA_CC_IOMMU', 1],
    ['VFIO_NOIOMMU_IOMMU', 0],
  ];
  it.each(type1)('CHECK_EXTENSION(%s) on a type1 container is answered by type1 with %i', (ext, want) => {
    const r = probe([...full, ioctl(CFD, 'VFIO_CHECK_EXTENSION', ext, ok(want))]);
    expect(r.last.ret).toBe(BigInt(want));
    expect(r.last.decidedBy).toContain('vfio_iommu_type1_check_extension');
  });

  it('CHECK_EXTENSION(VFIO_UPDATE_VADDR) answers 0 once an mdev group is attached', () => {
    const r = probe([...prefix({ mdev: true, mmapLength: 0n }), ioctl(CFD, 'VFIO_CHECK_EXTENSION', 'VFIO_UPDATE_VADDR', ok(0))]);
    expect(r.last.ret).toBe(0n);
  });
});
