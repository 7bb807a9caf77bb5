/**
 * The tables the engine hands every Tx (src/core/tx.ts KernelTables): the machine actions and the
 * kernel's indirect calls (f_op, vm_ops, mmu_notifier_ops, vfio_device_ops), filled with the
 * functions that implement them. This is the one module that sees every kernel area at once.
 */
/**
 * The tables the engine hands every Tx (src/core/tx.ts KernelTables): the machine actions and the
 * kernel's indirect calls (f_op, vm_ops, mmu_notifier_ops, vfio_device_ops), filled with the
 * functions that implement them. This is the one module that sees every kernel area at once.
 */
import type { KernelTables } from '../core/tx.js';
import { ACTIONS } from './actions.js';
import { vendorDmaUnmap } from './drivers/mdev-vendors.js';
import { mmRelease, SVA_NOTIFIER_OPS } from './iommu/sva.js';
import { CONTAINER_FOPS } from './vfio/container.js';
import { DEVICE_FOPS } from './vfio/device.js';
import { GROUP_FOPS } from './vfio/group.js';
import { barMmap, faultBar } from './vfio/pci/bar.js';
import { LINK_OPS } from './vfio/pci/links.js';
import { INTERVAL_NOTIFIER_OPS, TYPE1_NOTIFIER_OPS } from './vfio/type1/notifier.js';

export const KERNEL: KernelTables = {
  actions: ACTIONS,
  ops: {
    file: { container: CONTAINER_FOPS, group: GROUP_FOPS, device: DEVICE_FOPS },
    mmapDevice: barMmap,
    faultBar,
    releaseSva: mmRelease,
    dmaUnmap: vendorDmaUnmap,
    notifier: { sva: SVA_NOTIFIER_OPS, type1: TYPE1_NOTIFIER_OPS, interval: INTERVAL_NOTIFIER_OPS, link: LINK_OPS },
  },
};
