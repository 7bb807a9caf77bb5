/**
 * The kernel's lock classes the model knows, and the one way to name a lock instance. An
 * instance id is `<class>#<object>` (`iommu.lock#5` is container 5's vfio_iommu->lock); the
 * class is what lockdep orders. docs/concurrency.md says how locks block and what the
 * pseudo-locks are.
 */
export const LOCK_CLASSES = {
  /** drivers/vfio/vfio_iommu_type1.c: struct vfio_iommu.lock */
  'iommu.lock': 'mutex',
  /** vfio_iommu.device_list_lock, held across the mdev dma_unmap callbacks */
  'device_list_lock': 'mutex',
  /**
   * before v6.0 (rule vfio-dma-unmap-callback): vfio_iommu.notifier's rwsem, the blocking
   * notifier chain of the mdev vendors: read across the UNMAP_DMA callbacks, write to register
   */
  'iommu.notifier': 'rwsem',
  /** mm->mmap_lock */
  mmap_lock: 'rwsem',
  /** drivers/vfio/pci: vfio_pci_core_device.memory_lock */
  memory_lock: 'rwsem',
  /** drivers/vfio/container.c: vfio_container.group_lock */
  'container.group_lock': 'rwsem',
  /** drivers/vfio/group.c: vfio_group.group_lock */
  'group.group_lock': 'mutex',
  /** drivers/vfio/vfio_main.c: vfio_device_set.lock */
  'dev_set.lock': 'mutex',
  /** drivers/iommu/iommu-sva.c: iommu_sva_lock */
  iommu_sva_lock: 'mutex',
  /**
   * struct device's mutex (device_lock): the driver core holds it across probe and remove
   * (drivers/base/dd.c device_release_driver_internal -> __device_driver_lock), pci_dev_lock
   * takes it, sysfs attributes such as sriov_numvfs take it. The kernel's lockdep does not
   * validate it (drivers/base/core.c device_initialize: lockdep_set_novalidate_class); the
   * model orders it like any other class.
   */
  device_lock: 'mutex',
  /** the interval-notifier driver's update lock (Documentation/mm/hmm.rst: driver->update) */
  update_lock: 'mutex',
  /** a dma-buf's reservation lock (dma_resv_lock), taken by vfio_pci_dma_buf_move */
  dma_resv: 'mutex',
  /**
   * drivers/pci/hotplug: struct controller.reset_lock. pciehp_reset_slot takes it for write;
   * pciehp_ist reads it around event handling but pciehp_unconfigure_device drops it around the
   * driver's remove ("Release reset_lock during driver unbinding to avoid AB-BA deadlock with
   * device_lock"), so the model's removal does not hold it.
   */
  reset_lock: 'rwsem',
  /** drivers/pci/remove.c: pci_lock_rescan_remove() */
  pci_rescan_remove_lock: 'mutex',
  /**
   * drivers/gpu/drm/i915/gvt: intel_vgpu.cache_lock, one per vGPU: held around the pin path
   * (kvmgt.c:intel_gvt_dma_map_guest_page -> gvt_dma_map_page -> gvt_pin_guest_page ->
   * vfio_pin_pages) and the dma_unmap callback (kvmgt.c:intel_vgpu_dma_unmap)
   */
  'gvt.cache_lock': 'mutex',
  /**
   * drivers/s390/crypto: the vfio_ap matrix_dev->mdevs_lock (one for the driver): held by
   * vfio_ap_ops.c:handle_pqap around vfio_ap_irq_enable's vfio_pin_pages and by
   * vfio_ap_mdev_dma_unmap around unmap_iova -> vfio_ap_irq_disable's vfio_unpin_pages
   */
  'vfio_ap.mdevs_lock': 'mutex',
  /** lockdep map: any allocation that may enter direct reclaim (GFP_KERNEL) */
  fs_reclaim: 'pseudo',
  /**
   * lockdep map __mmu_notifier_invalidate_range_start_map: held while invalidate_range_start
   * calls the start callbacks and inside invalidate_range_end; taken and released at once by
   * mmu_interval_read_begin, mmu_interval_notifier_remove and fs_reclaim_acquire
   */
  mmu_notifier_invalidate_range_start: 'pseudo',
} as const;

export type LockClass = keyof typeof LOCK_CLASSES;

/**
 * Each class's name as lockdep prints it: the argument of the mutex_init / init_rwsem that
 * initialises it (the macros stringify it, `#mutex`), the DEFINE_MUTEX's name, or the lockdep
 * map's `.name`. The reports print findings with these (docs/concurrency.md, "Reading a finding").
 */
export const LOCKDEP_NAMES: { readonly [C in LockClass]: string } = {
  /** vfio_iommu_type1.c:vfio_iommu_type1_open: mutex_init(&iommu->lock) */
  'iommu.lock': '&iommu->lock',
  /** vfio_iommu_type1.c:vfio_iommu_type1_open: mutex_init(&iommu->device_list_lock) */
  device_list_lock: '&iommu->device_list_lock',
  /** v5.x vfio_iommu_type1_open: BLOCKING_INIT_NOTIFIER_HEAD(&iommu->notifier) -> init_rwsem(&(name)->rwsem) */
  'iommu.notifier': '&(&iommu->notifier)->rwsem',
  /** mmap_init_lock: init_rwsem(&mm->mmap_lock) */
  mmap_lock: '&mm->mmap_lock',
  /** vfio_pci_core.c:vfio_pci_core_init_dev: init_rwsem(&vdev->memory_lock) */
  memory_lock: '&vdev->memory_lock',
  /** container.c:vfio_fops_open: init_rwsem(&container->group_lock) */
  'container.group_lock': '&container->group_lock',
  /** group.c:vfio_group_alloc: mutex_init(&group->group_lock) */
  'group.group_lock': '&group->group_lock',
  /** vfio_main.c:vfio_assign_device_set: mutex_init(&new_dev_set->lock) */
  'dev_set.lock': '&new_dev_set->lock',
  /** iommu-sva.c: static DEFINE_MUTEX(iommu_sva_lock) */
  iommu_sva_lock: 'iommu_sva_lock',
  /** drivers/base/core.c:device_initialize: mutex_init(&dev->mutex), then lockdep_set_novalidate_class */
  device_lock: '&dev->mutex',
  /** not a kernel lock: Documentation/mm/hmm.rst's take_lock(driver->update) */
  update_lock: '&driver->update',
  /** dma-resv.c: DEFINE_WD_CLASS(reservation_ww_class), whose mutexes are named <class>_mutex */
  dma_resv: 'reservation_ww_class_mutex',
  /** pciehp_hpc.c:pcie_init: init_rwsem(&ctrl->reset_lock) */
  reset_lock: '&ctrl->reset_lock',
  /** drivers/pci/probe.c: static DEFINE_MUTEX(pci_rescan_remove_lock) */
  pci_rescan_remove_lock: 'pci_rescan_remove_lock',
  /** kvmgt.c:gvt_cache_init: mutex_init(&vgpu->cache_lock) */
  'gvt.cache_lock': '&vgpu->cache_lock',
  /** vfio_ap_drv.c:vfio_ap_matrix_dev_create: mutex_init(&matrix_dev->mdevs_lock) */
  'vfio_ap.mdevs_lock': '&matrix_dev->mdevs_lock',
  /** page_alloc.c: __fs_reclaim_map = STATIC_LOCKDEP_MAP_INIT("fs_reclaim", ...) */
  fs_reclaim: 'fs_reclaim',
  /** mmu_notifier.c: __mmu_notifier_invalidate_range_start_map's .name */
  mmu_notifier_invalidate_range_start: 'mmu_notifier_invalidate_range_start',
};

/** A lock class or instance id (`iommu.lock#5`) as lockdep names its class (`&iommu->lock`). */
export function lockdepName(id: string): string {
  const c = id.split('#')[0]!;
  return c in LOCKDEP_NAMES ? LOCKDEP_NAMES[c as LockClass] : c;
}
export type Mode = 'read' | 'write';

/** A lock a step takes or waits for, with the mode. */
export interface LockUse {
  readonly lock: string;
  readonly mode: Mode;
}

/**
 * The instance ids of one class, `<class>#<object>`, each built once: a replay names the same
 * few locks millions of times, and the same string each time is hashed once (lock tables and
 * lockClass are keyed by it).
 */
function interned<K extends string | number>(cls: LockClass): (object: K) => string {
  const ids = new Map<K, string>();
  return (object) => {
    let id = ids.get(object);
    if (id === undefined) {
      id = `${cls}#${object}`;
      ids.set(object, id);
    }
    return id;
  };
}

/** The instance id of each lock, from the object that embeds it. */
export const lockOf = {
  /** container `c`'s vfio_iommu->lock */
  iommu: interned<number>('iommu.lock'),
  /** container `c`'s vfio_iommu->device_list_lock */
  deviceList: interned<number>('device_list_lock'),
  /** container `c`'s vfio_iommu->notifier.rwsem (before v6.0) */
  notifier: interned<number>('iommu.notifier'),
  mmap: interned<number>('mmap_lock'),
  /** vdev->memory_lock of device `name` */
  memory: interned<string>('memory_lock'),
  containerGroups: interned<number>('container.group_lock'),
  group: interned<string>('group.group_lock'),
  devSet: interned<string>('dev_set.lock'),
  /** the interval-notifier driver's update lock, one per container */
  update: interned<number>('update_lock'),
  /** the reservation lock of the dma-buf behind container `c`'s mapping at `iova` */
  dmaResv: (c: number, iova: bigint): string => `dma_resv#${c}@0x${iova.toString(16)}`,
  /** the hotplug slot's reset_lock of device `name` */
  reset: interned<string>('reset_lock'),
  /** struct device.mutex of PCI device `name` (device_lock) */
  device: interned<string>('device_lock'),
  /** intel_vgpu.cache_lock of the gvt mdev `name` */
  gvtCache: interned<string>('gvt.cache_lock'),
  /** vfio_ap's matrix_dev->mdevs_lock (one for the driver) */
  apMdevs: 'vfio_ap.mdevs_lock',
  rescanRemove: 'pci_rescan_remove_lock',
  sva: 'iommu_sva_lock',
  fsReclaim: 'fs_reclaim',
  invalidateRangeStart: 'mmu_notifier_invalidate_range_start',
} as const;

export const writeLock = (lock: string): LockUse => ({ lock, mode: 'write' });
export const readLock = (lock: string): LockUse => ({ lock, mode: 'read' });
