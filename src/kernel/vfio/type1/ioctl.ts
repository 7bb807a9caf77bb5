/**
 * vfio_iommu_type1_ioctl (MAP_DMA and UNMAP_DMA run as paths, src/paths/), vfio_iommu_type1_get_info
 * with its capability chain, and vfio_iommu_type1_check_extension (with
 * vfio_domains_have_enforce_cache_coherency), in drivers/vfio/vfio_iommu_type1.c.
 */
import type { JsonValue, StimulusOf } from '../../../vocab/records.js';
import { hex, lowestBit } from '../../../log/u64.js';
import { type Outcome, Tx } from '../../../core/tx.js';
import type { Container } from '../../../core/world.js';
import { ModelError } from '../../../vocab/errors.js';
import { pgsizeBitmap } from './dma-tree.js';

// ---------------------------------------------------------------------------------------------
// ioctls

export function ioctl(tx: Tx, c: Container, s: StimulusOf<'ioctl'>): Outcome {
  switch (s.cmd) {
    case 'VFIO_IOMMU_MAP_DMA':
      throw new ModelError('MAP_DMA runs as the map_dma path (src/paths/map-dma.ts)');
    case 'VFIO_IOMMU_UNMAP_DMA':
      throw new ModelError('UNMAP_DMA runs as the unmap_dma path (src/paths/unmap-dma.ts)');
    case 'VFIO_IOMMU_GET_INFO':
      return getInfo(tx, c, s);
  }
  return tx.fail('ENOTTY', 'vfio_iommu_type1.c:vfio_iommu_type1_ioctl: unknown ioctl');
}

/** vfio_iommu_type1_check_extension; `c` is null when no driver is set (iommu == NULL). */
export function checkExtension(c: Container | null, ext: string): bigint {
  switch (ext) {
    case 'VFIO_TYPE1_IOMMU':
    case 'VFIO_TYPE1v2_IOMMU':
    case 'VFIO_UNMAP_ALL':
      return 1n;
    case 'VFIO_UPDATE_VADDR':
      return c?.type1 != null && c.type1.emulatedGroups.length === 0 ? 1n : 0n;
    case 'VFIO_DMA_CC_IOMMU':
      // vfio_domains_have_enforce_cache_coherency: the model's domains enforce coherency.
      return c?.type1 != null ? 1n : 0n;
    default:
      return 0n;
  }
}

/** offsetofend(struct vfio_iommu_type1_info, iova_pgsizes): argsz, flags, iova_pgsizes. */
const INFO_MINSZ = 16;
/** offsetofend(struct vfio_iommu_type1_info, cap_offset). */
const CAP_OFFSET_END = 20;
/** sizeof(struct vfio_iommu_type1_info): cap_offset and its padding included. */
const INFO_SZ = 24;

/**
 * vfio_iommu_type1_get_info: `struct vfio_iommu_type1_info info = {}`, its first minsz bytes
 * copied from the user; `argsz < minsz` -> -EINVAL; the caps built (vfio_info_add_capability);
 * then `copy_to_user(arg, &info, min(argsz, sizeof(info)))`. So `out` holds what the kernel
 * writes: argsz as the user passed it, or sizeof(info) + caps.size when that is more (no caps
 * copied, cap_offset left 0); cap_offset only when argsz reaches it.
 */
function getInfo(tx: Tx, c: Container, s: StimulusOf<'ioctl'>): Outcome {
  const t = c.type1!;
  const at = 'vfio_iommu_type1.c:vfio_iommu_type1_get_info';
  // Caps in chain order: MIGRATION (header 8 + flags 4 + pad 4 + pgsize 8 + max 8), DMA_AVAIL
  // (header 8 + avail 4 + pad 4), IOVA_RANGE (header 8 + nr 4 + pad 4 + 16 per range).
  const ranges = t.domain?.iovaList ?? [];
  const capsz = 32 + 16 + (ranges.length > 0 ? 16 + 16 * ranges.length : 0);
  const argsz = s.argsz ?? INFO_SZ + capsz;
  if (argsz < INFO_MINSZ) tx.fail('EINVAL', `${at}: argsz < offsetofend(iova_pgsizes)`);
  const bitmap = pgsizeBitmap(tx, t);
  // caps.size > 0 always (MIGRATION and DMA_AVAIL): info.flags |= VFIO_IOMMU_INFO_CAPS.
  const out: Record<string, JsonValue> = { argsz, flags: ['PGSIZES', 'CAPS'], iova_pgsizes: hex(bitmap) };
  if (argsz < INFO_SZ + capsz) {
    out['argsz'] = INFO_SZ + capsz; // info.argsz = sizeof(info) + caps.size; nothing else copied
    if (argsz >= CAP_OFFSET_END) out['cap_offset'] = 0;
    return { ret: 0n, out, decidedBy: `${at}: argsz < sizeof(info) + caps.size: the size needed, no caps copied` };
  }
  out['cap_offset'] = INFO_SZ;
  out['migration'] = { pgsize_bitmap: hex(lowestBit(bitmap)), max_dirty_bitmap_size: hex(256n << 20n) };
  out['dma_avail'] = t.dmaAvail;
  if (ranges.length > 0) out['iova_ranges'] = ranges.map(([a, b]) => [hex(a), hex(b)]);
  return { ret: 0n, out, decidedBy: at };
}
