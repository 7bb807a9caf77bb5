/**
 * The kernel releases the model knows (the header's `kernel`, e.g. "6.18"), and the
 * version-dependent rules: each with the release whose upstream commit changed it, the commit
 * (hash and title), the kernel function it changed, and what the model does before and since.
 * Kernel code asks `tx.release.has('<rule>')` (src/core/tx.ts); docs/model.md lists the table and
 * test/releases.test.ts checks that it lists every rule.
 *
 * A rule not in the table follows v6.18 whatever the header says. The releases before v6.2 (5.19,
 * 6.0, 6.1) are there for the rules of the table that changed before v6.2 (vfio-dma-unmap-callback);
 * everything else in them follows v6.18 as well, except SVA: src/kernel/iommu/sva.ts mirrors the
 * SVA domain of v6.2 (iommu_sva_domain_alloc), so a log of an older kernel with an SVA stimulus
 * (SVA_OPS) is bad input (src/log/reader.ts).
 */

/** Every release the model knows, oldest first. */
export const RELEASES = ['5.19', '6.0', '6.1', '6.2', '6.3', '6.4', '6.5', '6.6', '6.7', '6.8', '6.9', '6.10', '6.11', '6.12', '6.13', '6.14', '6.15', '6.16', '6.17', '6.18'] as const;

export type ReleaseName = (typeof RELEASES)[number];

/** A log without `kernel` models this release. */
export const LATEST_RELEASE: ReleaseName = '6.18';

/** The first release whose SVA the model mirrors, and the stimuli that need it. */
export const SVA_SINCE = '6.2';
export const SVA_OPS: readonly string[] = ['sva.bind', 'sva.unbind', 'device.page_request', 'device.stop_pasid'];

export interface VersionedRule {
  /** The first release with the change. */
  readonly since: ReleaseName;
  /** The upstream commit that made it: the first 12 digits of its hash, and its title. */
  readonly commit: { readonly hash: string; readonly title: string };
  /** The kernel function(s) it changed, as `file.c:function`. */
  readonly mirrors: string;
  /** What releases before `since` do. */
  readonly before: string;
  /** What `since` and later do. */
  readonly after: string;
}

export const VERSIONED_RULES = {
  'vfio-dma-unmap-callback': {
    since: '6.0',
    commit: { hash: 'ce4b4657ff18', title: 'vfio: Replace the DMA unmapping notifier with a callback' },
    mirrors: 'vfio_iommu_type1.c:vfio_dma_do_unmap, vfio_notify_dma_unmap, vfio_iommu_type1_register_device (vfio_iommu_type1_register_notifier before)',
    before: 'UNMAP_DMA of a dma with pinned pages: mutex_unlock(&iommu->lock), then blocking_notifier_call_chain(&iommu->notifier, VFIO_IOMMU_NOTIFY_DMA_UNMAP) under the chain\'s rwsem (read); an mdev registers its notifier block with the rwsem for write alone (blocking_notifier_chain_register): no device_list_lock, no lock taken under iommu->lock',
    after: 'vfio_notify_dma_unmap takes device_list_lock under iommu->lock and calls each device\'s dma_unmap under it; register/unregister take iommu->lock, then device_list_lock (docs/findings/mdev-device-list-lock-inversion.md)',
  },
  'sva-pasid-ida': {
    since: '6.4',
    commit: { hash: '4e14176ab13f', title: 'iommu/sva: Stop using ioasid_set for SVA' },
    mirrors: 'iommu-sva.c:iommu_sva_alloc_pasid',
    before: 'sva.bind: the PASID comes from an ioasid_set; none free is ENOMEM; a PASID the mm already has is refused (EOVERFLOW) when it is >= max_pasids - 1',
    after: 'a global IDA (ida_alloc_range): none free is ENOSPC; EOVERFLOW when the PASID is > max_pasids - 1',
  },
  'sva-core-pasid': {
    since: '6.6',
    commit: { hash: '2dcebc7ddce7', title: 'iommu: Move global PASID allocation from SVA to core' },
    mirrors: 'iommu-sva.c:iommu_sva_bind_device, iommu.c:iommu_alloc_global_pasid',
    before: 'sva.bind of a device without PASIDs (max_pasids == 0) is EOPNOTSUPP, before any PASID is looked at',
    after: 'no EOPNOTSUPP: iommu_alloc_global_pasid gives no PASID for max_pasids == 0, so a new mm gets ENOSPC and an mm that has a PASID EOVERFLOW (pasid >= max_pasids)',
  },
  'type1-overflow': {
    since: '6.18',
    commit: { hash: '6012379ede6a', title: 'vfio/type1: sanitize for overflow using check_*_overflow()' },
    mirrors: 'vfio_iommu_type1.c:vfio_dma_do_map, vfio_dma_do_unmap, vfio_iommu_type1_pin_pages, vfio_iommu_type1_unpin_pages',
    before: 'MAP_DMA: size 0 and an iova or vaddr range that wraps are EINVAL, under iommu->lock after the prot/VADDR and alignment checks; UNMAP_DMA: a wrap is EINVAL; mdev pin_pages and unpin_pages have no wrap check (the iova wraps in the loop)',
    after: 'MAP_DMA: size 0 is EINVAL, then a wrap EOVERFLOW, both before the prot/VADDR check and iommu->lock; UNMAP_DMA: a wrap is EOVERFLOW (after the size and alignment checks); mdev pin_pages: EOVERFLOW after the v2 check; unpin_pages: WARN_ON and return',
  },
  'type1-addressable-limit': {
    since: '6.18',
    commit: { hash: 'ef270ec44637', title: 'vfio/type1: handle DMA map/unmap up to the addressable limit' },
    mirrors: 'vfio_iommu_type1.c:vfio_dma_do_unmap, vfio_find_dma_first_node',
    before: 'UNMAP_DMA of a range that ends at 2^64 finds no mapping (iova + size wraps to 0 in vfio_find_dma_first_node): ret 0, size 0, nothing unmapped',
    after: 'the range is compared by its inclusive end: the mappings in it are unmapped',
  },
  'vfio-pci-huge-fault': {
    since: '6.12',
    commit: { hash: 'f9e54c3a2f5b', title: 'vfio/pci: implement huge_fault support' },
    mirrors: 'vfio_pci_core.c:vfio_pci_mmap_huge_fault (vfio_pci_mmap_fault before)',
    before: 'a BAR fault populates the whole vma (v6.10-v6.11 vfio_pci_mmap_fault: vmf_insert_pfn, then "Pre-fault the remainder of the vma"; earlier io_remap_pfn_range of the vma)',
    after: 'a BAR fault inserts one pfn (or one PMD/PUD pfn), the page that faulted: "The pre-faulting behavior ... is removed"',
  },
} as const satisfies Readonly<Record<string, VersionedRule>>;

export type RuleId = keyof typeof VERSIONED_RULES;

/** Orders two "major.minor" releases numerically ("6.5" < "6.18"). */
export function compareReleases(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

export function isRelease(s: string): s is ReleaseName {
  return (RELEASES as readonly string[]).includes(s);
}

/** The release a log models, as kernel code asks it. */
export class KernelRelease {
  /** has()'s answers, by rule: kernel code asks on every record (compareReleases splits strings). */
  private readonly answers = new Map<RuleId, boolean>();

  constructor(readonly name: ReleaseName) {}

  atLeast(r: ReleaseName): boolean {
    return compareReleases(this.name, r) >= 0;
  }

  /** Whether this release has the change that rule `id` names (VERSIONED_RULES). */
  has(id: RuleId): boolean {
    let a = this.answers.get(id);
    if (a === undefined) {
      a = this.atLeast(VERSIONED_RULES[id].since);
      this.answers.set(id, a);
    }
    return a;
  }
}

/** The release of a log's header: its `kernel`, or the latest the model knows. */
export function releaseOf(header: { readonly kernel?: ReleaseName }): KernelRelease {
  return new KernelRelease(header.kernel ?? LATEST_RELEASE);
}
