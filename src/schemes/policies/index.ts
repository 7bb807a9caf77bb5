/**
 * The policy table: from each of a scheme's choices to the module that says what the choice
 * means to the kernel code. Kernel code asks `tx.policy.<point>.<question>` and never compares
 * a scheme's value itself, so a new value is one entry here and no branch elsewhere.
 */
import type { Scheme } from '../scheme.js';
import { PASID_FREE, type PasidPolicy } from './pasid.js';
import { PFNMAP, type PfnmapPolicy } from './pfnmap.js';

/**
 * The type1 MMU notifier a scheme may add (seed 002's alternative; upstream has none): its
 * invalidate callback unmaps and unpins the dmas of the invalidated user range.
 */
export interface Type1NotifierPolicy {
  /** type1 registers an MMU notifier on the mm of each mapping. */
  readonly registers: boolean;
  /** The callback takes iommu->lock. */
  readonly takesIommuLock: boolean;
  /** The callback allocates with GFP_KERNEL. */
  readonly allocates: boolean;
}

/** What an mdev vendor driver does in its dma_unmap callback (vfio_notify_dma_unmap). */
export interface MdevDmaUnmapPolicy {
  /** It unpins every page it pinned in the range, through vfio_unpin_pages (iommu->lock). */
  readonly vendorUnpins: boolean;
}

/** Where vfio_notify_dma_unmap takes device_list_lock (docs/findings/mdev-device-list-lock-inversion.md). */
export interface MdevNotifyPolicy {
  /** It drops iommu->lock before it takes device_list_lock for the callbacks (the proposed fix). */
  readonly dropsIommuLockFirst: boolean;
}

/** How the MSI window is kept out of user mappings. */
export interface MsiWindowPolicy {
  /** type1 excludes the IOMMU's reserved regions from the valid IOVA ranges (v4.11/v5.4). */
  readonly excludesReservedRegions: boolean;
  /** MAP_DMA takes the 2016 RFC's MSI_RESERVED_IOVA flag, the user's MSI window. */
  readonly userReservedIova: boolean;
}

export interface Policy {
  readonly pfnmap: PfnmapPolicy;
  readonly pasid: PasidPolicy;
  readonly type1Notifier: Type1NotifierPolicy;
  readonly mdevDmaUnmap: MdevDmaUnmapPolicy;
  readonly mdevNotify: MdevNotifyPolicy;
  readonly msiWindow: MsiWindowPolicy;
  /** noiommu mode on a platform without an IOMMU: every device gets a noiommu group. */
  readonly noiommu: boolean;
}

const MDEV_DMA_UNMAP: { readonly [V in Scheme['mdevDmaUnmap']]: MdevDmaUnmapPolicy } = {
  /** include/linux/vfio.h: "Drivers MUST unpin pages in response to an invalidation". */
  unpin: { vendorUnpins: true },
  /** A vendor driver that ignores the callback: the unmap retries, BUG_ON(++retries > 10). */
  ignore: { vendorUnpins: false },
};

const MDEV_NOTIFY: { readonly [V in Scheme['mdevNotifyLock']]: MdevNotifyPolicy } = {
  /** v6.0+ (vfio: Replace the DMA unmapping notifier with a callback): under iommu->lock. */
  'under-iommu-lock': { dropsIommuLockFirst: false },
  /** The proposed fix: mutex_unlock(&iommu->lock) first, then mutex_lock(&iommu->device_list_lock). */
  'after-iommu-lock': { dropsIommuLockFirst: true },
};

const MSI_WINDOW: { readonly [V in Scheme['msiWindow']]: MsiWindowPolicy } = {
  'reserved-regions': { excludesReservedRegions: true, userReservedIova: false },
  'user-reserved-iova': { excludesReservedRegions: false, userReservedIova: true },
};

const NO_TYPE1_NOTIFIER: Type1NotifierPolicy = { registers: false, takesIommuLock: false, allocates: false };

const resolved = new WeakMap<Scheme, Policy>();

/** The policy modules of a scheme's choices (made once per scheme object). */
export function policyOf(scheme: Scheme): Policy {
  let p = resolved.get(scheme);
  if (p === undefined) {
    p = {
      pfnmap: PFNMAP[scheme.pfnmap],
      pasid: PASID_FREE[scheme.pasidFree],
      type1Notifier: scheme.type1Notifier === null ? NO_TYPE1_NOTIFIER : { registers: true, ...scheme.type1Notifier },
      mdevDmaUnmap: MDEV_DMA_UNMAP[scheme.mdevDmaUnmap],
      mdevNotify: MDEV_NOTIFY[scheme.mdevNotifyLock],
      msiWindow: MSI_WINDOW[scheme.msiWindow],
      noiommu: scheme.noiommuEnabled,
    };
    resolved.set(scheme, p);
  }
  return p;
}
