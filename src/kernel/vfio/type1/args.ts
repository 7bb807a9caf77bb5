/**
 * The uapi arguments of VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA (struct
 * vfio_iommu_type1_dma_map, struct vfio_iommu_type1_dma_unmap, struct vfio_bitmap): the flags,
 * minsz and the parsing of `arg` that vfio_iommu_type1_map_dma and _unmap_dma copy_from_user.
 */
import type { StimulusOf } from '../../../vocab/records.js';
import { own } from '../../../log/json.js';
import { u64Text } from '../../../log/u64.js';
import { BadReference, showValue } from '../../../vocab/errors.js';


export const MAP_FLAGS = ['READ', 'WRITE', 'VADDR', 'MSI_RESERVED_IOVA'] as const;
export const UNMAP_FLAGS = ['GET_DIRTY_BITMAP', 'ALL', 'VADDR'] as const;

export interface DmaArg {
  readonly flags: Set<string>;
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
}

function u64Field(o: object, k: string): bigint {
  const v = own(o, k);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  const b = typeof v === 'string' ? u64Text(v) : null;
  if (typeof b === 'bigint') return b;
  throw new BadReference(`arg.${k}`, 'expected a u64 ("0x..." or a safe integer)');
}

export function dmaArg(s: StimulusOf<'ioctl'>, known: readonly string[], fields: readonly string[]): DmaArg {
  const a = s.arg;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new BadReference('arg', `expected {${['flags', ...fields].join(', ')}}`);
  for (const k of Object.keys(a)) if (k !== 'flags' && !fields.includes(k)) throw new BadReference(`arg.${k}`, 'unknown field');
  const flagsRaw = own(a, 'flags') ?? [];
  if (!Array.isArray(flagsRaw)) throw new BadReference('arg.flags', 'expected an array of flag names');
  const flags = new Set<string>();
  for (const f of flagsRaw) {
    if (typeof f !== 'string' || !known.includes(f)) throw new BadReference('arg.flags', `unknown flag ${showValue(f)} (${known.join(', ')})`);
    flags.add(f);
  }
  const get = (k: string): bigint => (fields.includes(k) ? (own(a, k) === undefined ? missing(k) : u64Field(a, k)) : 0n);
  return { flags, vaddr: get('vaddr'), iova: get('iova'), size: get('size') };
}

function missing(k: string): never {
  throw new BadReference(`arg.${k}`, 'missing');
}

/** sizeof(struct vfio_iommu_type1_dma_map) = offsetofend(size): argsz, flags, vaddr, iova, size. */
export const MAP_MINSZ = 32;
/** offsetofend(struct vfio_iommu_type1_dma_unmap, size): argsz, flags, iova, size. */
export const UNMAP_MINSZ = 24;
/** sizeof(struct vfio_bitmap): pgsize, size, data. */
export const BITMAP_SZ = 24;
