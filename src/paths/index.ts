/**
 * Every kernel path by name, and which path a stimulus runs. A stimulus whose kernel entry point
 * runs in one step takes the atomic path; the others have a machine of their own
 * (machines/paths/), whose header names the steps file here.
 */
import type { Stimulus } from '../vocab/records.js';
import { atomic } from './atomic.js';
import { exit } from './exit.js';
import { munmapPath, oomReapPath, reclaimPath } from './invalidate-range.js';
import { mapDma } from './map-dma.js';
import { pageRequest } from './page-request.js';
import { svaUnbind } from './sva-unbind.js';
import type { PathDef } from './types.js';
import { unbind } from './unbind.js';
import { unmapDma } from './unmap-dma.js';
import { isZap, zap } from './zap.js';

export const PATHS = {
  atomic,
  map_dma: mapDma,
  unmap_dma: unmapDma,
  page_request: pageRequest,
  sva_unbind: svaUnbind,
  munmap: munmapPath,
  reclaim: reclaimPath,
  oom_reap: oomReapPath,
  exit,
  unbind,
  zap,
} as const satisfies Readonly<Record<string, PathDef>>;

export type PathName = keyof typeof PATHS;

/** The path a stimulus runs. */
export function pathNameFor(s: Stimulus): PathName {
  if (s.op === 'ioctl' && s.cmd === 'VFIO_IOMMU_MAP_DMA') return 'map_dma';
  if (s.op === 'ioctl' && s.cmd === 'VFIO_IOMMU_UNMAP_DMA') return 'unmap_dma';
  if (isZap(s)) return 'zap';
  switch (s.op) {
    case 'munmap':
      return 'munmap';
    case 'mm.reclaim':
      return 'reclaim';
    case 'mm.oom_reap':
      return 'oom_reap';
    case 'exit':
      return 'exit';
    case 'device.unbind':
      return 'unbind';
    case 'device.page_request':
      return 'page_request';
    case 'sva.unbind':
      return 'sva_unbind';
    default:
      return 'atomic';
  }
}
