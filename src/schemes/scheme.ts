/**
 * The scheme API: an invalidation design is a set of choices at named policy points. The engine
 * asks the scheme at each point and otherwise mirrors the kernel. This file holds the policy
 * points the foundation needs; the design-validation issue adds the rest and the catalogue.
 */

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
  /** Whether noiommu groups may be opened (CONFIG_VFIO_NOIOMMU + enable_unsafe_noiommu_mode). */
  readonly noiommuEnabled: boolean;
  /**
   * Whether type1 registers an MMU notifier on the mm of each mapping (the alternative argued in
   * seed 002), and what its invalidate callback does: take iommu->lock, allocate with GFP_KERNEL.
   * The callback unmaps and unpins the dmas whose user range is invalidated. null: upstream,
   * where type1 registers no notifier.
   */
  readonly type1Notifier: null | { readonly takesIommuLock: boolean; readonly allocates: boolean };
  /**
   * How type1 maps a range that is all PFNMAP (a BAR): `follow` the pfns (vaddr_get_pfns ->
   * follow_fault_pfn; nothing tracks the mapping afterwards: upstream), or `interval`: the
   * pinless page-faulting scheme of Documentation/mm/hmm.rst, an interval notifier on the range,
   * mmu_interval_read_begin / read_retry under the driver's update lock, and a callback that
   * takes only that lock (trylock when non-blockable), allocates nothing and unmaps the IOMMU
   * entries of the invalidated range.
   */
  readonly pfnmap: 'follow' | 'interval';
}

/** Today's kernel: type1 2025, vfio-pci zap, PASID freed at __mmdrop, reserved regions for MSI. */
export const upstream: Scheme = {
  name: 'upstream',
  summary: "today's kernel: type1 (2025), vfio-pci zap, PASID freed at mmdrop, reserved MSI regions",
  source: 'torvalds/linux v6.16+ (drivers/vfio, drivers/iommu)',
  mdevDmaUnmap: 'unpin',
  noiommuEnabled: false,
  type1Notifier: null,
  pfnmap: 'follow',
};

const BUILTIN: ReadonlyMap<string, Scheme> = new Map([[upstream.name, upstream]]);

export function builtinScheme(name: string): Scheme | undefined {
  return BUILTIN.get(name);
}

export function builtinSchemes(): readonly Scheme[] {
  return [...BUILTIN.values()];
}

/** Checks a scheme a user's file exports; returns the first problem, or null. */
export function checkScheme(v: unknown): { field: string; detail: string } | null {
  if (typeof v !== 'object' || v === null) return { field: 'default', detail: 'the module must export a scheme object as default (or as `scheme`)' };
  const s = v as Record<string, unknown>;
  for (const k of ['name', 'summary', 'source'] as const) if (typeof s[k] !== 'string' || s[k] === '') return { field: k, detail: 'must be a non-empty string' };
  if (s['mdevDmaUnmap'] !== 'unpin' && s['mdevDmaUnmap'] !== 'ignore') return { field: 'mdevDmaUnmap', detail: "must be 'unpin' or 'ignore'" };
  if (typeof s['noiommuEnabled'] !== 'boolean') return { field: 'noiommuEnabled', detail: 'must be true or false' };
  if (s['pfnmap'] !== 'follow' && s['pfnmap'] !== 'interval') return { field: 'pfnmap', detail: "must be 'follow' or 'interval'" };
  const n = s['type1Notifier'];
  if (n !== null) {
    if (typeof n !== 'object' || n === undefined) return { field: 'type1Notifier', detail: 'must be null or { takesIommuLock, allocates }' };
    const o = n as Record<string, unknown>;
    if (typeof o['takesIommuLock'] !== 'boolean' || typeof o['allocates'] !== 'boolean') return { field: 'type1Notifier', detail: 'takesIommuLock and allocates must be true or false' };
  }
  return null;
}
