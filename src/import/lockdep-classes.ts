/**
 * Lock classes as lockdep names them in a report, against the model's classes
 * (src/vocab/locks.ts). One row per kernel lock: the names lockdep prints for it (the argument
 * of its mutex_init / init_rwsem / DEFINE_MUTEX, or a lockdep map's .name), the struct field
 * it is, and the model's class, or null when the model does not have it. A name not in the
 * table is a class the model does not have either.
 */
import { LOCKDEP_NAMES, type LockClass } from '../vocab/locks.js';

export interface ClassRow {
  /** The names lockdep prints (without `#N` and `/N`). */
  readonly names: readonly string[];
  /** The kernel object the lock is: file and struct field. */
  readonly field: string;
  /** The model's class, or null: the model does not model this lock. */
  readonly model: LockClass | null;
  /**
   * Where the name is shared by other locks (intel-iommu's and AMD's `&iommu->lock` are
   * spinlocks of their own structs): the model's class applies only when a function of the
   * report at that lock matches. A lock printed with no function is taken by its name.
   */
  readonly where?: RegExp;
  /** What the model has instead, or why it leaves the lock out. */
  readonly note?: string;
}

export const CLASS_TABLE: readonly ClassRow[] = [
  { names: ['&iommu->lock'], field: 'drivers/vfio/vfio_iommu_type1.c: struct vfio_iommu.lock', model: 'iommu.lock', where: /vfio/ },
  { names: ['&iommu->device_list_lock'], field: 'drivers/vfio/vfio_iommu_type1.c: struct vfio_iommu.device_list_lock (v6.0+)', model: 'device_list_lock' },
  { names: ['&(&iommu->notifier)->rwsem'], field: 'vfio_iommu_type1.c (before v6.0): struct vfio_iommu.notifier, a blocking_notifier_head\'s rwsem', model: 'iommu.notifier' },
  { names: ['&vdev->memory_lock'], field: 'drivers/vfio/pci: struct vfio_pci_core_device.memory_lock (struct vfio_pci_device before v5.15)', model: 'memory_lock' },
  { names: ['&mm->mmap_lock', '&mm->mmap_sem'], field: 'include/linux/mm_types.h: struct mm_struct.mmap_lock (named mmap_sem before v5.8)', model: 'mmap_lock' },
  { names: ['&vma->vm_lock->lock', 'vm_lock'], field: 'include/linux/mm_types.h: the per-VMA lock (struct vma_lock.lock, v6.4; a lockdep map in vm_area_struct later)', model: null, note: 'the model has no per-VMA locks: its page faults take mmap_lock for read' },
  { names: ['fs_reclaim'], field: 'mm/page_alloc.c: __fs_reclaim_map, the lockdep map of allocations that may reclaim', model: 'fs_reclaim' },
  { names: ['mmu_notifier_invalidate_range_start'], field: 'mm/mmu_notifier.c: __mmu_notifier_invalidate_range_start_map', model: 'mmu_notifier_invalidate_range_start' },
  { names: ['&group->group_lock'], field: 'drivers/vfio/group.c: struct vfio_group.group_lock', model: 'group.group_lock' },
  { names: ['&container->group_lock'], field: 'drivers/vfio/container.c: struct vfio_container.group_lock', model: 'container.group_lock' },
  { names: ['&new_dev_set->lock', '&dev_set->lock'], field: 'drivers/vfio/vfio_main.c: struct vfio_device_set.lock (mutex_init(&new_dev_set->lock))', model: 'dev_set.lock' },
  { names: ['iommu_sva_lock'], field: 'drivers/iommu/iommu-sva.c: static DEFINE_MUTEX(iommu_sva_lock)', model: 'iommu_sva_lock' },
  { names: ['&dev->mutex'], field: 'include/linux/device.h: struct device.mutex (device_lock)', model: 'device_lock', note: 'the kernel does not validate it (lockdep_set_novalidate_class); the model orders it' },
  { names: ['&ctrl->reset_lock'], field: 'drivers/pci/hotplug/pciehp.h: struct controller.reset_lock', model: 'reset_lock' },
  { names: ['pci_rescan_remove_lock'], field: 'drivers/pci/probe.c: static DEFINE_MUTEX(pci_rescan_remove_lock)', model: 'pci_rescan_remove_lock' },
  { names: ['&vgpu->cache_lock'], field: 'drivers/gpu/drm/i915/gvt/gvt.h: struct intel_vgpu.cache_lock', model: 'gvt.cache_lock' },
  { names: ['&matrix_dev->mdevs_lock'], field: 'drivers/s390/crypto/vfio_ap_private.h: struct ap_matrix_dev.mdevs_lock', model: 'vfio_ap.mdevs_lock' },
  { names: ['reservation_ww_class_mutex'], field: 'drivers/dma-buf/dma-resv.c: struct dma_resv.lock (reservation_ww_class)', model: 'dma_resv' },
  { names: ['&driver->update'], field: 'not a kernel lock: Documentation/mm/hmm.rst\'s take_lock(driver->update), the interval-notifier schemes\' lock', model: 'update_lock' },
  { names: ['&vdev->vma_lock'], field: 'drivers/vfio/pci: struct vfio_pci_core_device.vma_lock (the list of BAR vmas)', model: null, note: 'the model zaps BAR mappings through the device\'s address_space, as upstream does now' },
  { names: ['&vdev->igate'], field: 'drivers/vfio/pci: struct vfio_pci_core_device.igate (interrupt set-up)', model: null, note: 'the model has no interrupt set-up' },
  { names: ['&mapping->i_mmap_rwsem'], field: 'include/linux/fs.h: struct address_space.i_mmap_rwsem', model: null },
  { names: ['pci_bus_sem'], field: 'drivers/pci/search.c: DECLARE_RWSEM(pci_bus_sem)', model: null },
  { names: ['&group->mutex'], field: 'drivers/iommu/iommu.c: struct iommu_group.mutex', model: null },
  { names: ['&kvm->lock'], field: 'include/linux/kvm_host.h: struct kvm.lock', model: null, note: 'KVM is not modelled' },
  { names: ['&kvm->slots_lock'], field: 'include/linux/kvm_host.h: struct kvm.slots_lock', model: null, note: 'KVM is not modelled' },
  { names: ['&kvm->srcu'], field: 'include/linux/kvm_host.h: struct kvm.srcu', model: null, note: 'KVM is not modelled' },
  { names: ['&vcpu->mutex'], field: 'include/linux/kvm_host.h: struct kvm_vcpu.mutex', model: null, note: 'KVM is not modelled' },
  { names: ['&migf->lock'], field: 'drivers/vfio/pci/*: a variant driver\'s migration file lock (mlx5, hisi_acc, pds)', model: null, note: 'migration is not modelled' },
  { names: ['&mvdev->state_mutex', '&xe_vdev->state_mutex', '&hisi_acc_vdev->state_mutex'], field: 'drivers/vfio/pci/*: a variant driver\'s migration state_mutex', model: null, note: 'migration is not modelled' },
  { names: ['&ictx->ioas_creation_lock', '&iopt->iova_rwsem', '&iopt->domains_rwsem', '&pages->mutex'], field: 'drivers/iommu/iommufd: struct iommufd_ctx / io_pagetable / iopt_pages locks', model: null, note: 'iommufd\'s own locking is not modelled (only its vfio_compat semantics)' },
];

/** What a report's lock is to the model. */
export interface ClassMatch {
  /** The class's name as the report printed it (with `#N`). */
  readonly printed: string;
  readonly model: LockClass | null;
  readonly row: ClassRow | null;
  /** Set when the name is the model's but the functions say it is another struct's lock. */
  readonly otherLock?: string;
}

const BY_NAME = new Map<string, ClassRow>(CLASS_TABLE.flatMap((r) => r.names.map((n) => [n, r] as const)));

/**
 * The model's class of a lock lockdep named `name` (without `#N`), given the functions the
 * report shows at it (its `at:` and its chain entry's stack).
 */
export function classOf(name: string, printed: string, functions: readonly string[]): ClassMatch {
  const row = BY_NAME.get(name) ?? null;
  if (row === null || row.model === null) return { printed, model: null, row };
  if (row.where !== undefined && functions.length > 0 && !functions.some((f) => row.where!.test(f))) {
    return { printed, model: null, row, otherLock: `taken in ${functions[0]}: not ${row.field.split(':')[0]}'s` };
  }
  return { printed, model: row.model, row };
}

/** Every model class has a row naming it by its LOCKDEP_NAMES name (a check for the tests). */
export function unmatchedModelClasses(): LockClass[] {
  return (Object.keys(LOCKDEP_NAMES) as LockClass[]).filter((c) => BY_NAME.get(LOCKDEP_NAMES[c])?.model !== c);
}
