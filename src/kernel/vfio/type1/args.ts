/**
 * The uapi arguments of VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA (struct
 * vfio_iommu_type1_dma_map, struct vfio_iommu_type1_dma_unmap, struct vfio_bitmap): the flags,
 * minsz and the parsing of `arg` that vfio_iommu_type1_map_dma and _unmap_dma copy_from_user.
 */
import type { StimulusOf } from '../../../vocab/records.js';
import { argFlags, argObject, argU64 } from '../uapi.js';

export const MAP_FLAGS = ['READ', 'WRITE', 'VADDR', 'MSI_RESERVED_IOVA'] as const;
export const UNMAP_FLAGS = ['GET_DIRTY_BITMAP', 'ALL', 'VADDR'] as const;
/** The input fields besides flags: struct vfio_iommu_type1_dma_map, struct vfio_iommu_type1_dma_unmap. */
export const MAP_FIELDS = ['vaddr', 'iova', 'size'] as const;
export const UNMAP_FIELDS = ['iova', 'size'] as const;

export interface DmaArg {
  readonly flags: Set<string>;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

/** `arg: {flags, <fields>}` of MAP_DMA or UNMAP_DMA, every field required (flags may be left out). */
export function dmaArg(s: StimulusOf<'ioctl'>, known: readonly string[], fields: readonly string[]): DmaArg {
  const o = argObject(s, ['flags', ...fields]);
  const flags = argFlags(o, known);
  const get = (k: string): bigint => (fields.includes(k) ? argU64(o, k) : 0n);
  return { flags, vaddr: get('vaddr'), iova: get('iova'), size: get('size') };
}

/** sizeof(struct vfio_iommu_type1_dma_map) = offsetofend(size): argsz, flags, vaddr, iova, size. */
export const MAP_MINSZ = 32;
/** offsetofend(struct vfio_iommu_type1_dma_unmap, size): argsz, flags, iova, size. */
export const UNMAP_MINSZ = 24;
/** sizeof(struct vfio_bitmap): pgsize, size, data. */
export const BITMAP_SZ = 24;
