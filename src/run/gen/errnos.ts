/**
 * `gen --cover errnos`: a minimal log for every check of every ioctl the model has, listed per
 * ioctl in the kernel's order (the order of the checks in src/kernel/vfio/container.ts,
 * group.ts, device.ts, pci/pm.ts, pci/reset.ts and type1/{attach,map,unmap,ioctl}.ts, each of
 * which cites the kernel function). A log counts only if its last call fails with the check's
 * errno and the model names that check as the one that decided it (`decidedBy`). The checks no
 * log can reach carry `gap`: why.
 */
import type { Outcome } from '../../core/tx.js';
import { hex } from '../../log/u64.js';
import { buildAll, type Coverage, type Gap, type Recipe, type Target } from './coverage.js';
import { ANON, ANON_SIZE, BAR_MAP_SIZE, BAR_VA, DEVICE, IOVA, MDEV, PID, Rig, type RigOptions } from './rig.js';

/** One check: the ioctl (as VFIO_<name>), the errno, and the check the model reports. */
export interface IoctlCheck {
  /** The ioctl without its VFIO_ (or VFIO_IOMMU_) prefix; `any` for the fd lookup, `<kind>-fd` for a file's unknown ioctls. */
  readonly ioctl: string;
  readonly errno: string;
  /** Tells apart the checks of one ioctl that share an errno. */
  readonly slug?: string;
  /** The check (`file.c:function: condition`), exactly as the model's outcome names it. */
  readonly check: string;
}

/** A check and the log that reaches it, or why no log can. */
type CheckRecipe = IoctlCheck &
  (
    | {
        readonly rig?: RigOptions;
        /** Writes the set-up and the failing call; returns the call's outcome. */
        readonly run: (rig: Rig) => Outcome | null;
      }
    | { readonly gap: string }
  );

const T1 = 'vfio_iommu_type1.c';
const DO_MAP = `${T1}:vfio_dma_do_map`;
const DO_UNMAP = `${T1}:vfio_dma_do_unmap`;
const UNMAP_IOCTL = `${T1}:vfio_iommu_type1_unmap_dma`;
const ATTACH = `${T1}:vfio_iommu_type1_attach_group`;
const FEATURE = 'vfio_main.c:vfio_ioctl_device_feature';
const NO_DRIVER = 'container.c:vfio_fops_unl_ioctl: no iommu driver set';
const NOIOMMU_IOCTL = 'container.c:vfio_noiommu_ioctl: no DMA map ioctls';
const v617: RigOptions = { kernel: '6.17' };

/** A second device in its own group: the one a SET_CONTAINER onto a used container attaches. */
const DEVICE2 = '0000:02:00.0';
const GROUP2 = 27;

const SET_LOW_POWER = { flags: ['SET'], feature: 'LOW_POWER_ENTRY' };

const onContainer = (rig: Rig, cmd: string, arg?: Parameters<Rig['ioctl']>[2], extra = {}): Outcome | null => rig.ioctl(rig.containerFd(), cmd, arg, extra).outcome;
const onGroup = (rig: Rig, cmd: string, arg?: Parameters<Rig['ioctl']>[2], extra = {}): Outcome | null => rig.ioctl(rig.groupFd(), cmd, arg, extra).outcome;
const onDevice = (rig: Rig, cmd: string, arg?: Parameters<Rig['ioctl']>[2], extra = {}): Outcome | null => rig.ioctl(rig.deviceFd(), cmd, arg, extra).outcome;
const map = (rig: Rig, o: Parameters<Rig['map']>[0] = {}): Outcome | null => rig.map(o).outcome;
const unmap = (rig: Rig, o: Parameters<Rig['unmap']>[0] = {}): Outcome | null => rig.unmap(o).outcome;

/** The group of a second device, opened (for a SET_CONTAINER onto the rig's container). */
function openSecondGroup(rig: Rig, mdev: boolean): number {
  rig.spawn();
  rig.push(mdev ? { op: 'host.mdev', device: MDEV, group: GROUP2 } : { op: 'host.device', device: DEVICE2, group: GROUP2 });
  const a = rig.push({ op: 'open', pid: PID, path: `/dev/vfio/${GROUP2}` });
  return Number(a.outcome!.ret);
}

/**
 * A type1 container holding only an mdev's (emulated) group, so MAP_DMA checks no IOVA window
 * (there is no domain), with a PCI device's group open to attach next.
 */
function mdevOnlyContainer(rig: Rig, host?: Record<string, string | string[] | Record<string, string>[]>): number {
  if (host !== undefined) rig.push({ op: 'host.iommu', ...host });
  rig.declare(); // the rig's device is the mdev
  const pci = openSecondGroup(rig, false);
  rig.iommu();
  return pci;
}

const attachSecond = (rig: Rig, groupFd: number): Outcome | null => rig.ioctl(groupFd, 'VFIO_GROUP_SET_CONTAINER', { fd: rig.containerFd() }).outcome;

/** Every check of every ioctl, per ioctl in the kernel's order; `gap` says why no log reaches one. */
const CHECKS: readonly CheckRecipe[] = [
  // fs/file.c:fget, then the f_op of the file behind the fd
  { ioctl: 'any', errno: 'EBADF', check: 'fs/file.c:fget: fd is not open', run: (rig) => (rig.spawn(), rig.ioctl(9, 'VFIO_GET_API_VERSION').outcome) },
  { ioctl: 'any', errno: 'ENOTTY', slug: 'tty', check: 'drivers/tty/tty_io.c:tty_ioctl: not a tty ioctl', run: (rig) => (rig.spawn(), rig.ioctl(0, 'VFIO_GET_API_VERSION').outcome) },

  // container.c:vfio_ioctl_set_iommu, then vfio_iommu_type1_attach_group for each group
  { ioctl: 'SET_IOMMU', errno: 'EINVAL', slug: 'no-group', check: 'container.c:vfio_ioctl_set_iommu: group_list empty or iommu driver already set', run: (rig) => onContainer(rig, 'VFIO_SET_IOMMU', 'VFIO_TYPE1v2_IOMMU') },
  {
    ioctl: 'SET_IOMMU', errno: 'EINVAL', slug: 'no-valid-iova', check: `${ATTACH}: vfio_iommu_resv_exclude left no valid IOVA`,
    run: (rig) => {
      rig.push({ op: 'host.iommu', aperture: ['0x0', '0xffffffff'], resv: [{ start: '0x0', end: '0xffffffff', type: 'reserved' }] });
      rig.attach();
      return onContainer(rig, 'VFIO_SET_IOMMU', 'VFIO_TYPE1v2_IOMMU');
    },
  },
  {
    ioctl: 'SET_IOMMU', errno: 'EPERM', check: 'container.c:vfio_noiommu_open: !capable(CAP_SYS_RAWIO)',
    gap: 'a noiommu group is in the container only if its opener had CAP_SYS_RAWIO (vfio_group_fops_open), and the model passes fds on only through fork, which keeps the capabilities',
  },
  { ioctl: 'SET_IOMMU', errno: 'ENODEV', check: 'container.c:vfio_ioctl_set_iommu: no driver claimed the type', run: (rig) => (rig.attach(), onContainer(rig, 'VFIO_SET_IOMMU', 'VFIO_NOIOMMU_IOMMU')) },

  // vfio_fops_unl_ioctl -> vfio_iommu_type1_get_info
  { ioctl: 'GET_INFO', errno: 'EINVAL', slug: 'no-driver', check: NO_DRIVER, run: (rig) => onContainer(rig, 'VFIO_IOMMU_GET_INFO') },
  { ioctl: 'GET_INFO', errno: 'ENOTTY', rig: { noiommu: true }, check: NOIOMMU_IOCTL, run: (rig) => (rig.iommu(), onContainer(rig, 'VFIO_IOMMU_GET_INFO')) },
  { ioctl: 'GET_INFO', errno: 'EINVAL', slug: 'argsz', check: `${T1}:vfio_iommu_type1_get_info: argsz < offsetofend(iova_pgsizes)`, run: (rig) => (rig.iommu(), onContainer(rig, 'VFIO_IOMMU_GET_INFO', undefined, { argsz: 8 })) },

  // vfio_iommu_type1_map_dma -> vfio_dma_do_map -> vfio_pin_map_dma
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'no-driver', check: NO_DRIVER, run: (rig) => onContainer(rig, 'VFIO_IOMMU_MAP_DMA', { flags: ['READ', 'WRITE'], vaddr: hex(ANON), iova: hex(IOVA), size: hex(ANON_SIZE) }) },
  { ioctl: 'MAP_DMA', errno: 'ENOTTY', rig: { noiommu: true }, check: NOIOMMU_IOCTL, run: (rig) => map(rig) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'argsz', check: `${T1}:vfio_iommu_type1_map_dma: argsz < minsz`, run: (rig) => map(rig, { extra: { argsz: 16 } }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'flags', check: `${T1}:vfio_iommu_type1_map_dma: flags & ~(READ|WRITE|VADDR)`, run: (rig) => map(rig, { flags: ['READ', 'WRITE', 'MSI_RESERVED_IOVA'] }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'size-zero', check: `${DO_MAP}: !size`, run: (rig) => map(rig, { size: 0n }) },
  { ioctl: 'MAP_DMA', errno: 'EOVERFLOW', check: `${DO_MAP}: check_add_overflow(iova or vaddr, size - 1)`, run: (rig) => map(rig, { iova: 0xfffffffffff00000n }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'prot', check: `${DO_MAP}: (prot && VADDR) || (!prot && !VADDR)`, run: (rig) => map(rig, { flags: [] }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'alignment', check: `${DO_MAP}: (size|iova|vaddr) & (pgsize-1)`, run: (rig) => map(rig, { size: 0x1800n }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'size-or-alignment-6.17', rig: v617, check: `${DO_MAP}: !size or (size|iova|vaddr) & (pgsize-1)`, run: (rig) => map(rig, { size: 0n }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'wrap-6.17', rig: v617, check: `${DO_MAP}: iova + size - 1 < iova || vaddr + size - 1 < vaddr`, run: (rig) => map(rig, { iova: 0xfffffffffff00000n }) },
  { ioctl: 'MAP_DMA', errno: 'ENOENT', check: `${DO_MAP}: VADDR and no vfio_dma at iova`, run: (rig) => map(rig, { flags: ['VADDR'] }) },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'vaddr-valid', check: `${DO_MAP}: VADDR: !dma->vaddr_invalid or iova/size differ`, run: (rig) => (rig.map(), map(rig, { flags: ['VADDR'] })) },
  {
    // a VADDR update from a forked child moves the dma's charge to the child's mm (vfio_change_dma_owner)
    ioctl: 'MAP_DMA', errno: 'ENOMEM', slug: 'change-owner', check: `${T1}:vfio_change_dma_owner: mm_lock_acct over RLIMIT_MEMLOCK`,
    run: (rig) => {
      rig.spawn({ rlimit_memlock: '0x300000' });
      rig.map();
      rig.unmap({ flags: ['VADDR'] });
      rig.push({ op: 'fork', pid: PID, child: PID + 1 });
      const child = { pid: PID + 1 };
      rig.push({ op: 'ioctl', ...child, fd: rig.containerFd(), cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(ANON), iova: hex(IOVA + 0x10000000n), size: hex(ANON_SIZE) } });
      return rig.push({ op: 'ioctl', ...child, fd: rig.containerFd(), cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['VADDR'], vaddr: hex(ANON), iova: hex(IOVA), size: hex(ANON_SIZE) } }).outcome;
    },
  },
  { ioctl: 'MAP_DMA', errno: 'EEXIST', check: `${DO_MAP}: vfio_find_dma: overlaps an existing mapping`, run: (rig) => (rig.map(), map(rig, { iova: IOVA + 0x100000n })) },
  {
    ioctl: 'MAP_DMA', errno: 'ENOSPC', check: `${DO_MAP}: !iommu->dma_avail (dma_entry_limit)`,
    gap: 'the model fixes dma_entry_limit at the kernel default, 65535 (DMA_ENTRY_LIMIT in src/kernel/vfio/type1/dma-tree.ts): the log would need 65535 MAP_DMA first, not a minimal log',
  },
  { ioctl: 'MAP_DMA', errno: 'EINVAL', slug: 'iova-window', check: `${DO_MAP}: vfio_iommu_iova_dma_valid: outside the aperture or in a reserved region`, run: (rig) => map(rig, { iova: 0xfee00000n }) },
  { ioctl: 'MAP_DMA', errno: 'EFAULT', slug: 'no-vma', check: `${T1}:vaddr_get_pfns: pin_user_pages_remote failed and no vma at ${hex(ANON + ANON_SIZE * 16n)}`, run: (rig) => map(rig, { vaddr: ANON + ANON_SIZE * 16n }) },
  { ioctl: 'MAP_DMA', errno: 'EFAULT', slug: 'vma-prot', check: `${T1}:vaddr_get_pfns: pin_user_pages_remote: vma does not allow the access`, run: (rig) => (rig.anon({ prot: ['READ'] }), map(rig)) },
  {
    ioctl: 'MAP_DMA', errno: 'ENODEV', slug: 'dmabuf-revoked', rig: { scheme: 'bar-dmabuf-revoke' }, check: 'vfio_pci_dmabuf.c:vfio_pci_dma_buf_iommufd_map: the dma-buf is revoked',
    run: (rig) => {
      rig.barMmap();
      rig.push({ op: 'pci.command', pid: PID, fd: rig.deviceFd(), memory: false });
      return map(rig, { vaddr: BAR_VA, size: BAR_MAP_SIZE });
    },
  },
  {
    ioctl: 'MAP_DMA', errno: 'EFAULT', slug: 'bar-sigbus', check: `${T1}:follow_fault_pfn: fixup_user_fault: VM_FAULT_SIGBUS (memory disabled)`,
    run: (rig) => {
      rig.barMmap();
      rig.push({ op: 'pci.command', pid: PID, fd: rig.deviceFd(), memory: false });
      return map(rig, { vaddr: BAR_VA, size: BAR_MAP_SIZE });
    },
  },
  { ioctl: 'MAP_DMA', errno: 'EFAULT', slug: 'bar-read-only', check: `${T1}:follow_fault_pfn: write_fault && !args.writable`, run: (rig) => (rig.barMmap(['READ']), map(rig, { vaddr: BAR_VA, size: BAR_MAP_SIZE })) },
  { ioctl: 'MAP_DMA', errno: 'ENOMEM', slug: 'rlimit', check: `${T1}:vfio_pin_pages_remote: RLIMIT_MEMLOCK exceeded`, run: (rig) => (rig.spawn({ rlimit_memlock: '0x100000' }), map(rig)) },

  // vfio_iommu_type1_unmap_dma -> vfio_dma_do_unmap
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'no-driver', check: NO_DRIVER, run: (rig) => onContainer(rig, 'VFIO_IOMMU_UNMAP_DMA', { flags: [], iova: hex(IOVA), size: hex(ANON_SIZE) }) },
  { ioctl: 'UNMAP_DMA', errno: 'ENOTTY', rig: { noiommu: true }, check: NOIOMMU_IOCTL, run: (rig) => unmap(rig) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'argsz', check: `${UNMAP_IOCTL}: argsz < minsz`, run: (rig) => unmap(rig, { extra: { argsz: 16 } }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'dirty-with-all', check: `${UNMAP_IOCTL}: GET_DIRTY_BITMAP with ALL or VADDR`, run: (rig) => unmap(rig, { iova: 0n, size: 0n, flags: ['GET_DIRTY_BITMAP', 'ALL'] }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'dirty-argsz', check: `${UNMAP_IOCTL}: argsz < minsz + sizeof(struct vfio_bitmap)`, run: (rig) => unmap(rig, { flags: ['GET_DIRTY_BITMAP'], extra: { argsz: 24 } }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'dirty-bitmap', check: `${UNMAP_IOCTL}: verify_bitmap_size: no bitmap (the model does not track dirty pages)`, run: (rig) => unmap(rig, { flags: ['GET_DIRTY_BITMAP'] }) },
  { ioctl: 'UNMAP_DMA', errno: 'EBUSY', rig: { mdev: true }, check: `${DO_UNMAP}: VADDR with an emulated (mdev) group`, run: (rig) => unmap(rig, { flags: ['VADDR'] }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'iova-alignment', check: `${DO_UNMAP}: iova & (pgsize-1)`, run: (rig) => unmap(rig, { iova: IOVA + 0x800n }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'all-with-range', check: `${DO_UNMAP}: ALL with iova or size`, run: (rig) => unmap(rig, { flags: ['ALL'] }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'size', check: `${DO_UNMAP}: !size or size & (pgsize-1)`, run: (rig) => unmap(rig, { size: 0n }) },
  { ioctl: 'UNMAP_DMA', errno: 'EOVERFLOW', check: `${DO_UNMAP}: check_add_overflow(iova, size - 1)`, run: (rig) => unmap(rig, { iova: 0xfffffffffff00000n }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'wrap-6.17', rig: v617, check: `${DO_UNMAP}: iova + size - 1 < iova`, run: (rig) => unmap(rig, { iova: 0xfffffffffff00000n }) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'starts-inside', check: `${DO_UNMAP}: v2: request starts inside a mapping`, run: (rig) => (rig.map(), unmap(rig, { iova: IOVA + 0x1000n, size: 0x1000n })) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'ends-inside', check: `${DO_UNMAP}: v2: request ends inside a mapping`, run: (rig) => (rig.map(), unmap(rig, { size: 0x1000n })) },
  { ioctl: 'UNMAP_DMA', errno: 'EINVAL', slug: 'vaddr-invalid', check: `${DO_UNMAP}: VADDR: dma->vaddr_invalid already set (rolled back)`, run: (rig) => (rig.map(), rig.unmap({ flags: ['VADDR'] }), unmap(rig, { flags: ['VADDR'] })) },

  // the container's other ioctls go to type1 (vfio_iommu_type1_ioctl)
  { ioctl: 'container-fd', errno: 'ENOTTY', check: `${T1}:vfio_iommu_type1_ioctl: unknown ioctl`, run: (rig) => (rig.iommu(), onContainer(rig, 'VFIO_GROUP_GET_STATUS')) },

  // group.c:vfio_group_fops_unl_ioctl
  { ioctl: 'GROUP_GET_STATUS', errno: 'EINVAL', check: 'group.c:vfio_group_ioctl_get_status: argsz < minsz', run: (rig) => onGroup(rig, 'VFIO_GROUP_GET_STATUS', undefined, { argsz: 4 }) },
  { ioctl: 'GROUP_GET_STATUS', errno: 'ENODEV', check: 'group.c:vfio_group_ioctl_get_status: !group->iommu_group', run: (rig) => (rig.groupFd(), rig.push({ op: 'device.unbind', device: DEVICE }), onGroup(rig, 'VFIO_GROUP_GET_STATUS')) },
  { ioctl: 'GROUP_SET_CONTAINER', errno: 'EBADF', check: 'group.c:vfio_group_ioctl_set_container: fdget(fd) failed', run: (rig) => onGroup(rig, 'VFIO_GROUP_SET_CONTAINER', { fd: 9 }) },
  { ioctl: 'GROUP_SET_CONTAINER', errno: 'EINVAL', check: 'group.c:vfio_group_ioctl_set_container: group already has a container', run: (rig) => (rig.attach(), onGroup(rig, 'VFIO_GROUP_SET_CONTAINER', { fd: rig.containerFd() })) },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'ENODEV', check: 'group.c:vfio_group_ioctl_set_container: !group->iommu_group',
    run: (rig) => (rig.containerFd(), rig.groupFd(), rig.push({ op: 'device.unbind', device: DEVICE }), onGroup(rig, 'VFIO_GROUP_SET_CONTAINER', { fd: rig.containerFd() })),
  },
  { ioctl: 'GROUP_SET_CONTAINER', errno: 'EBADFD', check: 'group.c:vfio_group_ioctl_set_container: fd is not a container (or iommufd)', run: (rig) => onGroup(rig, 'VFIO_GROUP_SET_CONTAINER', { fd: rig.groupFd() }) },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EPERM', slug: 'noiommu-cap', check: 'container.c:vfio_container_attach_group: noiommu group && !capable(CAP_SYS_RAWIO)',
    gap: 'opening a noiommu group already needs CAP_SYS_RAWIO (vfio_group_fops_open), and fork keeps it',
  },
  {
    // noiommu mode: the mdev's emulated group is not noiommu, the PCI device's is
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EPERM', rig: { noiommu: true }, check: 'container.c:vfio_container_attach_group: noiommu and iommu groups cannot share a container',
    run: (rig) => (rig.attach(), attachSecond(rig, openSecondGroup(rig, true))),
  },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EBUSY', check: `${ATTACH}: vaddr_invalid_count`,
    run: (rig) => {
      rig.map();
      rig.unmap({ flags: ['VADDR'] });
      return attachSecond(rig, openSecondGroup(rig, false));
    },
  },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EINVAL', slug: 'already-attached', check: `${ATTACH}: group already attached`,
    gap: 'vfio_group_ioctl_set_container refuses a group that has a container first (group.c), so type1 never sees a group twice',
  },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EINVAL', slug: 'aperture', rig: { mdev: true }, check: `${ATTACH}: vfio_iommu_aper_conflict`,
    run: (rig) => {
      const pci = mdevOnlyContainer(rig, { aperture: ['0x0', '0xffffffff'] });
      rig.map({ iova: 0x100000000n });
      return attachSecond(rig, pci);
    },
  },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EINVAL', slug: 'reserved-region', rig: { mdev: true }, check: `${ATTACH}: vfio_iommu_resv_conflict`,
    run: (rig) => {
      const pci = mdevOnlyContainer(rig);
      rig.map({ iova: 0xfee00000n, size: 0x100000n });
      return attachSecond(rig, pci);
    },
  },
  {
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EINVAL', slug: 'no-valid-iova', rig: { mdev: true }, check: `${ATTACH}: vfio_iommu_resv_exclude left no valid IOVA`,
    run: (rig) => attachSecond(rig, mdevOnlyContainer(rig, { aperture: ['0x0', '0xffffffff'], resv: [{ start: '0x0', end: '0xffffffff', type: 'reserved' }] })),
  },
  {
    // vfio_iommu_replay pins each dma through its task's mm: a forked child attaches after its parent exited
    ioctl: 'GROUP_SET_CONTAINER', errno: 'EFAULT', rig: { mdev: true }, check: `${T1}:vfio_iommu_replay: the mapping mm is gone`,
    run: (rig) => {
      const pci = mdevOnlyContainer(rig);
      rig.map();
      rig.push({ op: 'fork', pid: PID, child: PID + 1 });
      rig.exit();
      return rig.push({ op: 'ioctl', pid: PID + 1, fd: pci, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: rig.containerFd() } }).outcome;
    },
  },
  { ioctl: 'GROUP_UNSET_CONTAINER', errno: 'EINVAL', check: 'group.c:vfio_group_ioctl_unset_container: no container', run: (rig) => onGroup(rig, 'VFIO_GROUP_UNSET_CONTAINER') },
  { ioctl: 'GROUP_UNSET_CONTAINER', errno: 'EBUSY', check: 'group.c:vfio_group_ioctl_unset_container: container_users != 1 (devices open)', run: (rig) => (rig.deviceFd(), onGroup(rig, 'VFIO_GROUP_UNSET_CONTAINER')) },
  { ioctl: 'GROUP_GET_DEVICE_FD', errno: 'ENODEV', check: 'group.c:vfio_group_ioctl_get_device_fd: no device of that name in the group', run: (rig) => onGroup(rig, 'VFIO_GROUP_GET_DEVICE_FD', { name: DEVICE2 }) },
  { ioctl: 'GROUP_GET_DEVICE_FD', errno: 'EINVAL', slug: 'no-container', check: 'group.c:vfio_df_group_open: group has no container or iommufd', run: (rig) => onGroup(rig, 'VFIO_GROUP_GET_DEVICE_FD', { name: DEVICE }) },
  { ioctl: 'GROUP_GET_DEVICE_FD', errno: 'EINVAL', slug: 'no-driver', check: 'group.c:vfio_group_use_container: !container->iommu_driver', run: (rig) => (rig.attach(), onGroup(rig, 'VFIO_GROUP_GET_DEVICE_FD', { name: DEVICE })) },
  {
    ioctl: 'GROUP_GET_DEVICE_FD', errno: 'EPERM', check: 'group.c:vfio_group_use_container: noiommu && !capable(CAP_SYS_RAWIO)',
    gap: 'opening a noiommu group already needs CAP_SYS_RAWIO (vfio_group_fops_open), and fork keeps it',
  },
  { ioctl: 'group-fd', errno: 'ENOTTY', check: 'group.c:vfio_group_fops_unl_ioctl: unknown ioctl', run: (rig) => onGroup(rig, 'VFIO_IOMMU_GET_INFO') },

  // the device file: vfio_device_fops_unl_ioctl -> vfio_pci_core_ioctl
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'argsz', check: `${FEATURE}: feature.argsz < minsz`, run: (rig) => onDevice(rig, 'VFIO_DEVICE_FEATURE', SET_LOW_POWER, { argsz: 4 }) },
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'get-and-set', check: `${FEATURE}: GET & SET are mutually exclusive except with PROBE`, run: (rig) => onDevice(rig, 'VFIO_DEVICE_FEATURE', { flags: ['GET', 'SET'], feature: 'LOW_POWER_ENTRY' }) },
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'mdev', rig: { mdev: true }, check: `${FEATURE}: !device->ops->device_feature (the model's mdev drivers have none)`, run: (rig) => onDevice(rig, 'VFIO_DEVICE_FEATURE', SET_LOW_POWER) },
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'get', check: 'vfio.h:vfio_check_feature: flags & GET & ~supported_ops (SET only)', run: (rig) => onDevice(rig, 'VFIO_DEVICE_FEATURE', { flags: ['GET'], feature: 'LOW_POWER_ENTRY' }) },
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'no-get-or-set', check: 'vfio.h:vfio_check_feature: without PROBE one of GET or SET must be requested', run: (rig) => onDevice(rig, 'VFIO_DEVICE_FEATURE', { flags: [], feature: 'LOW_POWER_ENTRY' }) },
  { ioctl: 'DEVICE_FEATURE', errno: 'EINVAL', slug: 'engaged', check: 'vfio_pci_core.c:vfio_pci_runtime_pm_entry: vdev->pm_runtime_engaged', run: (rig) => (onDevice(rig, 'VFIO_DEVICE_FEATURE', SET_LOW_POWER), onDevice(rig, 'VFIO_DEVICE_FEATURE', SET_LOW_POWER)) },
  { ioctl: 'DEVICE_RESET', errno: 'EINVAL', check: 'vfio_pci_core.c:vfio_pci_ioctl_reset: !vdev->reset_works', run: (rig) => (rig.declare({ reset: false }), onDevice(rig, 'VFIO_DEVICE_RESET')) },
  {
    // an unbind waiting for the open device holds its device_lock: pci_try_reset_function's trylock fails
    ioctl: 'DEVICE_RESET', errno: 'EAGAIN', check: 'drivers/pci/pci.c:pci_try_reset_function: pci_dev_trylock(dev) failed',
    run: (rig) => {
      const fd = rig.deviceFd();
      rig.start('unbind', { op: 'device.unbind', device: DEVICE });
      rig.start('reset', { op: 'ioctl', pid: PID, fd, cmd: 'VFIO_DEVICE_RESET' }, 0);
      return rig.log.runTask('reset');
    },
  },
  { ioctl: 'DEVICE_BIND_TASK', errno: 'ENOTTY', check: 'vfio_pci_core.c:vfio_pci_core_ioctl: unknown ioctl', run: (rig) => onDevice(rig, 'VFIO_DEVICE_BIND_TASK') },
  {
    ioctl: 'DEVICE_BIND_TASK', errno: 'EINVAL', slug: 'argsz', rig: { scheme: 'svm-bind-task-rfc', sva: true }, check: 'vfio.c:vfio_svm_ioctl: svm.argsz < minsz',
    run: (rig) => onDevice(rig, 'VFIO_DEVICE_BIND_TASK', undefined, { argsz: 8 }),
  },
  { ioctl: 'DEVICE_UNBIND_TASK', errno: 'ENOTTY', check: 'vfio_pci_core.c:vfio_pci_core_ioctl: unknown ioctl', run: (rig) => onDevice(rig, 'VFIO_DEVICE_UNBIND_TASK', { flags: [], pasid: 1 }) },
  {
    ioctl: 'DEVICE_UNBIND_TASK', errno: 'EINVAL', rig: { scheme: 'svm-bind-task-rfc', sva: true }, check: 'vfio.c:vfio_svm_ioctl: svm.flags & ~(VFIO_SVM_PASID_RELEASE_FLUSHED | VFIO_SVM_PASID_RELEASE_CLEAN)',
    gap: 'a log names flags by name, and a name the RFC does not define is bad input (unbindTaskArg in src/kernel/vfio/device.ts), so no log reaches a flag bit outside FLUSHED and CLEAN',
  },
  { ioctl: 'device-fd', errno: 'ENOTTY', check: 'vfio_pci_core.c:vfio_pci_core_ioctl: not a device ioctl', run: (rig) => onDevice(rig, 'VFIO_GROUP_GET_STATUS') },
];


/** The ioctls named VFIO_IOMMU_<label> (include/uapi/linux/vfio.h). */
const TYPE1_LABELS: readonly string[] = ['GET_INFO', 'MAP_DMA', 'UNMAP_DMA'];

function checkName(c: IoctlCheck): string {
  return `errno-${c.ioctl}-${c.errno}${c.slug === undefined ? '' : `-${c.slug}`}`;
}

function ioctlName(c: IoctlCheck): string {
  if (c.ioctl === 'any') return 'any ioctl';
  if (c.ioctl.endsWith('-fd')) return `an unknown ioctl on a ${c.ioctl.slice(0, -3)} fd`;
  return TYPE1_LABELS.includes(c.ioctl) ? `VFIO_IOMMU_${c.ioctl}` : `VFIO_${c.ioctl}`;
}

export function checkTarget(c: IoctlCheck): Target {
  return { name: checkName(c), title: `${ioctlName(c)} ${c.errno} (${c.check})` };
}

/** Every check the catalogue lists, reachable or not, in the kernel's order per ioctl. */
export function allChecks(): readonly (IoctlCheck & { readonly gap?: string })[] {
  return CHECKS;
}

export function generateErrnos(): Coverage {
  const recipes: Recipe[] = [];
  const gaps: Gap[] = [];
  for (const c of CHECKS) {
    const target = checkTarget(c);
    if ('gap' in c) {
      gaps.push({ target, why: c.gap });
      continue;
    }
    recipes.push({
      target,
      build: () => {
        const rig = new Rig(c.rig);
        const o = c.run(rig);
        rig.settle();
        return { rig, reached: o?.errno === c.errno && o.decidedBy === c.check, got: `${o?.errno ?? 'no errno'} (${o?.decidedBy ?? 'no outcome'})` };
      },
    });
  }
  return buildAll('errnos', CHECKS.map(checkTarget), recipes, gaps);
}

