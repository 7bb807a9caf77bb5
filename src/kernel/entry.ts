/**
 * The kernel entry point of every stimulus that runs in one atomic step (src/paths/atomic.ts),
 * with the locks it takes, in the kernel's order, beside it. The stimuli whose kernel paths take
 * several steps have their own path (src/paths/index.ts says which) and no entry here.
 */
import type { LockUse } from '../vocab/locks.js';
import type { StimulusOf, StimulusOp } from '../vocab/records.js';
import type { Rule } from '../core/tx.js';
import type { World } from '../core/world.js';
import type { Policy } from '../schemes/policies/index.js';
import { deviceDma } from './iommu/dma.js';
import { bind, bindLocks, stopPasid } from './iommu/sva.js';
import { hostDevice, hostIommu, hostMdev } from './host.js';
import { close } from './fs/file.js';
import { mmap, mmapLocks, touch, touchLocks } from './mm/mmap.js';
import { fork, forkLocks, spawn } from './mm/process.js';
import { dmaRw, mdevInnerLocks, mdevLocks, pinPages, unpinPages } from './vfio/mdev.js';
import { ioctl, ioctlLocks, open } from './vfio/fops.js';
import { pciCommand } from './vfio/pci/config.js';
import { sysfs, sysfsLocks } from './drivers/pci-sysfs.js';

export interface EntryPoint<O extends StimulusOp> {
  /** The kernel function(s) the rule mirrors (file:function). */
  readonly mirrors: string;
  readonly rule: Rule<O>;
  /** The locks the entry point holds, in the order it takes them; none when absent. */
  readonly locks?: (w: World, s: StimulusOf<O>, policy: Policy) => LockUse[];
  /**
   * The locks the rule itself takes and releases in turn inside `locks` (with locked()), so that
   * the step also waits for them; none when absent.
   */
  readonly inner?: (w: World, s: StimulusOf<O>, policy: Policy) => LockUse[];
}

type MultiStep = 'munmap' | 'exit' | 'device.page_request' | 'device.unbind' | 'mm.reclaim' | 'mm.oom_reap' | 'sva.unbind' | 'step';

export const ENTRY_POINTS: { readonly [O in Exclude<StimulusOp, MultiStep>]: EntryPoint<O> } = {
  'host.iommu': { mirrors: 'drivers/iommu/iommu.c:iommu_get_group_resv_regions (the host declaration)', rule: hostIommu },
  'host.device': { mirrors: 'drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_register_device (the host declaration)', rule: hostDevice },
  'host.mdev': { mirrors: 'drivers/vfio/mdev/mdev_core.c:mdev_device_create (the host declaration)', rule: hostMdev },
  'process.spawn': { mirrors: 'kernel/fork.c:copy_process (a new mm)', rule: spawn },
  open: { mirrors: 'drivers/vfio/container.c:vfio_fops_open, drivers/vfio/group.c:vfio_group_fops_open', rule: open },
  close: { mirrors: 'fs/file.c:close_fd -> fs/file_table.c:fput', rule: close },
  ioctl: { mirrors: 'drivers/vfio/container.c:vfio_fops_unl_ioctl, group.c:vfio_group_fops_unl_ioctl, vfio_main.c:vfio_device_fops_unl_ioctl', rule: ioctl, locks: ioctlLocks },
  mmap: { mirrors: 'mm/mmap.c:do_mmap (drivers/vfio/pci/vfio_pci_core.c:vfio_pci_core_mmap for a device region)', rule: mmap, locks: mmapLocks },
  touch: { mirrors: 'mm/memory.c:handle_mm_fault (vfio_pci_core.c:vfio_pci_mmap_huge_fault on a BAR)', rule: touch, locks: touchLocks },
  'pci.command': { mirrors: 'drivers/vfio/pci/vfio_pci_config.c:vfio_basic_config_write', rule: pciCommand },
  fork: { mirrors: 'kernel/fork.c:copy_process (dup_fd, dup_mmap)', rule: fork, locks: forkLocks },
  sysfs: { mirrors: 'fs/kernfs/file.c:kernfs_fop_read_iter / kernfs_fop_write_iter -> drivers/pci/pci-sysfs.c, iov.c (the attribute show / store; device_lock)', rule: sysfs, locks: sysfsLocks },
  'device.dma': { mirrors: 'the IOMMU translating a device DMA through its domain (drivers/iommu)', rule: deviceDma },
  'device.stop_pasid': { mirrors: 'the device stopping a PASID (the PCIe stop-PASID protocol: it drains its page requests)', rule: stopPasid },
  'mdev.pin_pages': { mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_pin_pages', rule: pinPages, locks: mdevLocks, inner: mdevInnerLocks },
  'mdev.unpin_pages': { mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages', rule: unpinPages, locks: mdevLocks, inner: mdevInnerLocks },
  'mdev.dma_rw': { mirrors: 'drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_dma_rw', rule: dmaRw, locks: mdevLocks },
  'sva.bind': { mirrors: 'drivers/iommu/iommu-sva.c:iommu_sva_bind_device', rule: bind, locks: bindLocks },
};

export type SingleStepOp = keyof typeof ENTRY_POINTS;

export function isSingleStep(op: StimulusOp): op is SingleStepOp {
  return op in ENTRY_POINTS;
}
