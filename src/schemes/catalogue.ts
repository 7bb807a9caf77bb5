/**
 * The built-in schemes: the positions of the mailing-list threads they come from (each scheme's
 * `source` names its thread) and the kernel's own
 * history, each a set of choices at the policy points of src/schemes/scheme.ts, with the
 * verdicts the checker gives it on the built-in scenarios (docs/schemes.md explains each).
 */
import type { PropertyName } from '../vocab/properties.js';
import { defineScheme, upstream, type Scheme } from './scheme.js';

type Expect = Record<string, readonly PropertyName[]>;

/** The verdicts of upstream: the kernel's own hazards (docs/concurrency.md, docs/schemes.md). */
const UPSTREAM_EXPECT: Expect = {
  'bar-p2p-revoke': ['NoDmaToDisabledMmio'],
  'hot-remove-vs-sysfs': ['NoDeadlock'],
  'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
  'mdev-unmap-while-pinned': ['LockOrder'],
  'vm-lifecycle': ['NoDmaToDisabledMmio'],
  'zap-vs-p2p-map': ['NoDmaToDisabledMmio'],
};

const CATALOGUE: readonly Scheme[] = [
  { ...upstream, expect: UPSTREAM_EXPECT },
  defineScheme({
    name: 'bar-notifier-naive',
    summary: 'type1 registers an MMU notifier whose callback takes iommu->lock and unmaps/unpins the range, allocating with GFP_KERNEL',
    source: 'seed 002 (A. Williamson, May 2020: "I don\'t really see why we wouldn\'t use mmu notifiers")',
    type1Notifier: { takesIommuLock: true, allocates: true },
    expect: {
      'bar-p2p-revoke': ['LockOrder'],
      'hot-remove-vs-sysfs': ['NoDeadlock'],
      'map-vs-munmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-while-pinned': ['LockOrder'],
      'oom-reap': ['LockOrder', 'NoBlockInNonBlockable', 'ProtectedByLock'],
      'reclaim-vs-map': ['LockOrder'],
      'zap-vs-p2p-map': ['NoDmaToDisabledMmio', 'NoDeadlock', 'LockOrder'],
    },
  }),
  defineScheme({
    name: 'bar-interval-notifier',
    summary: "the pinless scheme: interval notifier, sequence retry, the driver's update lock never held across a fault, no allocation in the callback",
    source: 'seed 002 (J. Gunthorpe: "a whole pinless page faulting scheme with the locking like hmm_range_fault uses"); Documentation/mm/hmm.rst',
    pfnmap: 'interval',
    expect: {
      'hot-remove-vs-sysfs': ['NoDeadlock'],
      'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-while-pinned': ['LockOrder'],
    },
  }),
  defineScheme({
    name: 'bar-vma-link',
    summary: 'type1 accepts only vfio BARs and links the IOMMU mapping to the BAR owner, which unmaps it on zap and close',
    source: 'seed 002 (J. Gunthorpe: "link itself into the vma->private data so that when the vfio that owns the bar goes away, so does the iommu mapping")',
    pfnmap: 'vma-link',
    expect: {
      'bar-p2p-revoke': ['LockOrder'],
      'hot-remove-vs-sysfs': ['NoDeadlock'],
      'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-while-pinned': ['LockOrder'],
      'zap-vs-p2p-map': ['NoDmaToDisabledMmio', 'LockOrder'],
    },
  }),
  defineScheme({
    name: 'bar-dmabuf-revoke',
    summary: 'the BAR is exported as a dma-buf; the importer unmaps in move_notify under the reservation lock; type1 refuses PFNMAP',
    source: 'drivers/vfio/pci/vfio_pci_dmabuf.c (2025, L. Romanovsky / J. Gunthorpe): vfio_pci_dma_buf_move revokes under memory_lock',
    pfnmap: 'dmabuf',
    expect: {
      'hot-remove-vs-sysfs': ['NoDeadlock'],
      'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-while-pinned': ['LockOrder'],
    },
  }),
  defineScheme({
    name: 'pasid-free-at-unbind',
    summary: 'the PASID is freed at the last unbind, without draining page requests',
    source: 'v5.10-v5.17: the PASID from an ioasid_set (ioasid_alloc), freed at the last unbind',
    pasidFree: 'unbind',
    // upstream's hazards stay; what the PASID policy changes:
    expect: { ...UPSTREAM_EXPECT, 'exit-with-page-requests': ['PasidNotReusedWhileLive'] },
  }),
  defineScheme({
    name: 'pasid-free-at-mmput',
    summary: "the PASID is freed when the mm's users drop, while the IOMMU still holds the mm",
    source: 'v5.18-rc mm_pasid_drop in __mmput, moved to __mmdrop in the same cycle (kernel/fork.c; docs/kernel-notes.md item 5b)',
    pasidFree: 'mmput',
    // upstream's hazards stay; what the PASID policy changes:
    expect: { ...UPSTREAM_EXPECT, 'exit-with-page-requests': ['PasidNotReusedWhileLive'], 'sva-bind-pasid-exhausted': ['PasidNotReusedWhileLive'] },
  }),
  defineScheme({
    name: 'svm-bind-task-rfc',
    summary: 'VFIO_DEVICE_BIND_TASK / UNBIND_TASK with FLUSHED / CLEAN release flags; a PASID released without a flag is never reused',
    source: 'seed 001 ([RFC PATCH 29/30] vfio: Add support for Shared Virtual Memory, J-P. Brucker, Feb 2017)',
    pasidFree: 'bind-task-flags',
    // upstream's hazards stay; what the PASID policy changes:
    expect: { ...UPSTREAM_EXPECT, 'exit-with-page-requests': ['TeardownCompletes'], 'sva-bind-pasid-exhausted': ['TeardownCompletes'] },
  }),
  defineScheme({
    name: 'mdev-vendor-ignores-unmap',
    summary: 'a mediated-device vendor driver that does not unpin in its dma_unmap callback',
    source: 'seed 003 (the vGPU/mdev model: "Drivers MUST unpin pages in response to an invalidation")',
    mdevDmaUnmap: 'ignore',
    // upstream's BAR and hotplug hazards stay; its mdev lock-order cycle becomes the BUG_ON
    expect: { ...UPSTREAM_EXPECT, 'mdev-unmap-vs-unmap': ['KernelBug'], 'mdev-unmap-while-pinned': ['KernelBug'] },
  }),
  defineScheme({
    name: 'mdev-notify-unlocked',
    summary: 'the proposed fix of the device_list_lock inversion: vfio_notify_dma_unmap drops iommu->lock before it takes device_list_lock',
    source: 'docs/findings/mdev-device-list-lock-inversion.md (against v6.0+ "vfio: Replace the DMA unmapping notifier with a callback")',
    mdevNotifyLock: 'after-iommu-lock',
    expect: { ...UPSTREAM_EXPECT, 'mdev-unmap-vs-unmap': [], 'mdev-unmap-while-pinned': [] },
  }),
  defineScheme({
    name: 'mdev-vendor-gvt',
    summary: "the mediated devices are i915 gvt vGPUs: vgpu->cache_lock is held around the vendor's pins and its dma_unmap callback",
    source: 'drivers/gpu/drm/i915/gvt/kvmgt.c (intel_gvt_dma_map_guest_page, intel_vgpu_dma_unmap: mutex_lock(&vgpu->cache_lock))',
    mdevVendor: 'gvt',
    // upstream's hazards stay; the device_list_lock inversion runs through cache_lock
    expect: UPSTREAM_EXPECT,
  }),
  defineScheme({
    name: 'noiommu',
    summary: 'vfio noiommu mode on a platform without an IOMMU: the device DMAs to raw physical addresses',
    source: 'seed 003 (A. Williamson: "I don\'t think we want no-iommu anywhere near QEMU"); drivers/vfio/container.c vfio-noiommu',
    noiommuEnabled: true,
    // Every device is noiommu, so its group node is /dev/vfio/noiommu-<n>: a scenario written for
    // an IOMMU (open /dev/vfio/<n>) fails its set-up with ENOENT (group.c:vfio_create_group names
    // a noiommu group's node "noiommu-%d"), and an SVA bind fails with ENODEV
    // (iommu-sva.c:iommu_sva_bind_device: no iommu_group): they exercise nothing. Only the two
    // mdev scenarios (emulated groups, which noiommu mode does not touch) run.
    expectNotRun: ['bar-p2p-revoke', 'exit-vs-map', 'exit-with-page-requests', 'hot-remove-vs-exit', 'hot-remove-vs-sysfs', 'map-vs-munmap', 'msi-window', 'oom-reap', 'reclaim-vs-map', 'sva-bind-pasid-exhausted', 'unbind-vs-exit', 'vm-lifecycle', 'zap-vs-p2p-map'],
    expect: {
      'mdev-unmap-vs-unmap': ['NoDeadlock', 'LockOrder'],
      'mdev-unmap-while-pinned': ['LockOrder'],
      'vm-lifecycle': ['IsolationBreach'],
      'zap-vs-p2p-map': ['IsolationBreach'],
    },
  }),
  defineScheme({
    name: 'msi-reserved-iova-rfc',
    summary: 'the user registers the MSI window with MAP_DMA flag MSI_RESERVED_IOVA; no reserved regions are reported or excluded',
    source: 'seed 004 ([PATCH v9 4/7] vfio: allow reserved msi iova registration, E. Auger, 2016)',
    msiWindow: 'user-reserved-iova',
    // upstream's hazards stay; what the MSI window policy changes:
    expect: { ...UPSTREAM_EXPECT, 'msi-window': ['MsiWindowIntact'] },
  }),
];

const BY_NAME: ReadonlyMap<string, Scheme> = new Map(CATALOGUE.map((s) => [s.name, s]));

export function builtinScheme(name: string): Scheme | undefined {
  return BY_NAME.get(name);
}

export function builtinSchemes(): readonly Scheme[] {
  return CATALOGUE;
}
