/**
 * The policy table: from each of a scheme's choices to the module that says what the choice
 * means to the kernel code. Kernel code asks `tx.policy.<point>.<question>` and never compares
 * a scheme's value itself, so a new value is one entry here and no branch elsewhere.
 */
import type { Scheme } from '../scheme.js';
import { PASID_FREE, type PasidPolicy } from './pasid.js';
import { PFNMAP, type PfnmapPolicy } from './pfnmap.js';
import { lockOf } from '../../vocab/locks.js';

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

/** The mdev vendor driver's own lock around its pin path and its dma_unmap callback. */
export interface MdevVendorPolicy {
  /** The instance of the vendor lock mdev `device` holds there, or null (no vendor lock). */
  readonly vendorLock: (device: string) => string | null;
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
  readonly mdevVendor: MdevVendorPolicy;
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

const MDEV_VENDOR: { readonly [V in Scheme['mdevVendor']]: MdevVendorPolicy } = {
  /** A vendor driver with no lock of its own around vfio_pin_pages / vfio_unpin_pages. */
  generic: { vendorLock: () => null },
  /**
   * i915 gvt (drivers/gpu/drm/i915/gvt/kvmgt.c): intel_gvt_dma_map_guest_page and
   * intel_gvt_dma_unmap_guest_page take mutex_lock(&vgpu->cache_lock) around gvt_dma_map_page /
   * gvt_dma_unmap_page (vfio_pin_pages / vfio_unpin_pages); intel_vgpu_dma_unmap holds it across
   * the range's gvt_dma_unmap_page calls.
   */
  gvt: { vendorLock: (device) => lockOf.gvtCache(device) },
  /**
   * vfio-ap (drivers/s390/crypto/vfio_ap_ops.c): handle_pqap takes
   * mutex_lock(&matrix_dev->mdevs_lock) before vfio_ap_irq_enable's vfio_pin_pages;
   * vfio_ap_mdev_dma_unmap takes it around unmap_iova -> vfio_ap_irq_disable ->
   * vfio_ap_free_aqic_resources' vfio_unpin_pages.
   */
  'vfio-ap': { vendorLock: () => lockOf.apMdevs },
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
      mdevVendor: MDEV_VENDOR[scheme.mdevVendor],
      msiWindow: MSI_WINDOW[scheme.msiWindow],
      noiommu: scheme.noiommuEnabled,
    };
    resolved.set(scheme, p);
  }
  return p;
}
