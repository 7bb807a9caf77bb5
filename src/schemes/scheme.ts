/**
 * The scheme API: an invalidation design is a set of choices at named policy points. The engine
 * asks the scheme at each point and otherwise mirrors the kernel. A scheme module (built in, or
 * a user's file) gives a name, a one-line summary, its source, the choices that differ from
 * upstream, and the verdicts it expects on the built-in scenarios (docs/schemes.md).
 */
import type { PropertyName } from '../vocab/properties.js';

export interface Scheme {
  /** Stable name (the log header's `scheme`). */
  readonly name: string;
  /** One line: what the design is. */
  readonly summary: string;
  /** The seed thread or kernel commit it comes from. */
  readonly source: string;
  /**
   * What an mdev vendor driver does in its dma_unmap callback
   * (drivers/vfio/vfio_iommu_type1.c:vfio_notify_dma_unmap): `unpin` every page it pinned in the
   * range, as "Drivers MUST unpin pages in response to an invalidation" requires, or `ignore` it.
   */
  readonly mdevDmaUnmap: 'unpin' | 'ignore';
  /**
   * Where vfio_notify_dma_unmap takes iommu->device_list_lock: `under-iommu-lock` (v6.0+,
   * upstream: taken while iommu->lock is held, then iommu->lock dropped for the callbacks, which
   * take iommu->lock again through vfio_unpin_pages: the inversion of
   * docs/findings/mdev-device-list-lock-inversion.md), or `after-iommu-lock` (the proposed fix:
   * drop iommu->lock first, then take device_list_lock for the callbacks).
   */
  readonly mdevNotifyLock: 'under-iommu-lock' | 'after-iommu-lock';
  /**
   * Which vendor driver the mediated devices are, for the lock it holds around its pin path and
   * its dma_unmap callback: `generic` (no vendor lock), `gvt` (i915 kvmgt.c: vgpu->cache_lock
   * around intel_gvt_dma_map_guest_page -> gvt_pin_guest_page -> vfio_pin_pages and around
   * intel_vgpu_dma_unmap) or `vfio-ap` (vfio_ap_ops.c: matrix_dev->mdevs_lock around
   * handle_pqap -> vfio_ap_irq_enable -> vfio_pin_pages and around vfio_ap_mdev_dma_unmap).
   */
  readonly mdevVendor: 'generic' | 'gvt' | 'vfio-ap';
  /**
   * noiommu mode (CONFIG_VFIO_NOIOMMU + enable_unsafe_noiommu_mode) on a platform without an
   * IOMMU: every declared device gets a noiommu group (/dev/vfio/noiommu-<n>).
   */
  readonly noiommuEnabled: boolean;
  /**
   * Whether type1 registers an MMU notifier on the mm of each mapping (the alternative argued in
   * seed 002), and what its invalidate callback does: take iommu->lock, allocate with GFP_KERNEL.
   * The callback unmaps and unpins the dmas whose user range is invalidated. null: upstream,
   * where type1 registers no notifier.
   */
  readonly type1Notifier: null | { readonly takesIommuLock: boolean; readonly allocates: boolean };
  /**
   * How type1 maps a range that is all PFNMAP (a BAR), and what a BAR zap or revoke does to it:
   * - `follow`: follow the pfns (vaddr_get_pfns -> follow_fault_pfn); nothing tracks the IOMMU
   *   mapping afterwards (upstream);
   * - `interval`: the pinless page-faulting scheme of Documentation/mm/hmm.rst: an interval
   *   notifier on the range, mmu_interval_read_begin / read_retry under the driver's update
   *   lock, a callback that takes only that lock (trylock when non-blockable), allocates nothing
   *   and unmaps the IOMMU entries of the invalidated range;
   * - `vma-link`: type1 accepts only vfio BARs and links the IOMMU mapping to the BAR's owner
   *   (vma private data, seed 002); vfio-pci unmaps it (taking iommu->lock) when it zaps the BAR
   *   under memory_lock, and when the device is closed;
   * - `dmabuf`: the BAR reaches the IOMMU as a dma-buf (2025): the mapping is made only while
   *   the buffer is not revoked (ENODEV otherwise) and vfio-pci revokes it in move_notify under
   *   memory_lock and the reservation lock; type1's own PFNMAP path is refused.
   */
  readonly pfnmap: 'follow' | 'interval' | 'vma-link' | 'dmabuf';
  /**
   * When a PASID returns to the allocator: `mmdrop` (at __mmdrop, v5.19+: upstream), `unbind`
   * (at the last unbind, without draining page requests: before v5.18), `mmput` (when the mm's
   * users drop, while the IOMMU still holds the mm: v5.18-rc), `bind-task-flags` (the 2017 RFC:
   * VFIO_DEVICE_BIND_TASK / UNBIND_TASK; a PASID released without FLUSHED or CLEAN is never
   * reused).
   */
  readonly pasidFree: 'mmdrop' | 'unbind' | 'mmput' | 'bind-task-flags';
  /**
   * How the MSI window is kept out of user mappings: `reserved-regions` (v4.11/v5.4: the IOMMU
   * reports it, type1 excludes it from the valid IOVA ranges: MAP over it is EINVAL), or
   * `user-reserved-iova` (the 2016 RFC: the user registers a window with the MAP_DMA flag
   * MSI_RESERVED_IOVA; nothing else stops a mapping over the doorbell).
   */
  readonly msiWindow: 'reserved-regions' | 'user-reserved-iova';
  /**
   * The verdicts this design is documented to give: for each built-in scenario, the properties
   * it violates (every other property the scenario exercises holds). `demo` compares.
   */
  readonly expect: Readonly<Record<string, readonly PropertyName[]>>;
  /**
   * The built-in scenarios whose set-up this design refuses: a record outside the tasks that the
   * scenario expects to succeed fails (noiommu: the group node is /dev/vfio/noiommu-N, so opening
   * /dev/vfio/N is ENOENT). On those, `demo` shows `not run` instead of `holds`: nothing was
   * exercised, so nothing is claimed; a violation found anyway is still shown.
   */
  readonly expectNotRun: readonly string[];
}

/** The choices of today's kernel, which a scheme file overrides. */
const UPSTREAM_CHOICES = {
  mdevDmaUnmap: 'unpin',
  mdevNotifyLock: 'under-iommu-lock',
  mdevVendor: 'generic',
  noiommuEnabled: false,
  type1Notifier: null,
  pfnmap: 'follow',
  pasidFree: 'mmdrop',
  msiWindow: 'reserved-regions',
} as const;

/** The policy points and their allowed values, for checking a user's scheme. */
const CHOICES: Readonly<Record<string, readonly unknown[]>> = {
  mdevDmaUnmap: ['unpin', 'ignore'],
  mdevNotifyLock: ['under-iommu-lock', 'after-iommu-lock'],
  mdevVendor: ['generic', 'gvt', 'vfio-ap'],
  noiommuEnabled: [true, false],
  pfnmap: ['follow', 'interval', 'vma-link', 'dmabuf'],
  pasidFree: ['mmdrop', 'unbind', 'mmput', 'bind-task-flags'],
  msiWindow: ['reserved-regions', 'user-reserved-iova'],
};

/** A scheme from its name, summary, source and the choices that differ from upstream. */
export function defineScheme(s: Pick<Scheme, 'name' | 'summary' | 'source'> & Partial<Omit<Scheme, 'name' | 'summary' | 'source'>>): Scheme {
  return { ...UPSTREAM_CHOICES, expect: {}, expectNotRun: [], ...s };
}

/**
 * Checks a scheme a user's file exports; returns the first problem, or null. `v` is plain data
 * (src/cli/resolve.ts copies a module's exports first, so no getter or Proxy trap runs here).
 */
export function checkScheme(v: unknown): { field: string; detail: string } | null {
  if (typeof v !== 'object' || v === null) return { field: 'default', detail: 'the module must export a scheme object as default (or as `scheme`)' };
  const s = v as Record<string, unknown>;
  for (const k of ['name', 'summary', 'source'] as const) if (typeof s[k] !== 'string' || s[k] === '') return { field: k, detail: 'must be a non-empty string' };
  const known = new Set(['name', 'summary', 'source', 'expect', 'expectNotRun', 'type1Notifier', ...Object.keys(CHOICES)]);
  for (const k of Object.keys(s)) if (!known.has(k)) return { field: k, detail: `not a policy point (${[...known].join(', ')})` };
  for (const [k, allowed] of Object.entries(CHOICES)) {
    if (k in s && !allowed.includes(s[k])) return { field: k, detail: `must be one of ${allowed.map((x) => JSON.stringify(x)).join(', ')}` };
  }
  const n = s['type1Notifier'];
  if (n !== undefined && n !== null) {
    if (typeof n !== 'object') return { field: 'type1Notifier', detail: 'must be null or { takesIommuLock, allocates }' };
    const o = n as Record<string, unknown>;
    if (typeof o['takesIommuLock'] !== 'boolean' || typeof o['allocates'] !== 'boolean') return { field: 'type1Notifier', detail: 'takesIommuLock and allocates must be true or false' };
  }
  const e = s['expect'];
  if (e !== undefined && (typeof e !== 'object' || e === null || Object.values(e).some((x) => !Array.isArray(x)))) return { field: 'expect', detail: 'must map scenario names to arrays of property names' };
  const nr = s['expectNotRun'];
  if (nr !== undefined && (!Array.isArray(nr) || nr.some((x) => typeof x !== 'string'))) return { field: 'expectNotRun', detail: 'must be an array of scenario names' };
  return null;
}

/** Today's kernel: type1 2025, vfio-pci zap, PASID freed at __mmdrop, reserved regions for MSI. */
export const upstream: Scheme = defineScheme({
  name: 'upstream',
  summary: "today's kernel: type1 (2025), vfio-pci zap, PASID freed at mmdrop, reserved MSI regions",
  source: 'torvalds/linux v6.16+ (drivers/vfio, drivers/iommu)',
});
