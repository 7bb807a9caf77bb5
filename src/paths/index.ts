/**
 * Which path a stimulus runs, and the multi-step paths by name. Every stimulus not listed here
 * runs the atomic path (its rule in one step).
 */
import type { Stimulus } from '../vocab/records.js';
import type { Scheme } from '../schemes/scheme.js';
import { munmapPath, oomReapPath, reclaimPath } from './invalidate-range.js';
import { exitPath, unbindPath } from './exit.js';
import { mapDma } from './map-dma.js';
import { unmapDma } from './unmap-dma.js';
import { pageRequestPath, svaUnbindPath } from './page-request.js';
import type { PathDef } from './types.js';

export const PATHS_BY_NAME: Readonly<Record<string, PathDef>> = {
  map_dma: mapDma,
  unmap_dma: unmapDma,
  page_request: pageRequestPath,
  sva_unbind: svaUnbindPath,
  munmap: munmapPath,
  reclaim: reclaimPath,
  oom_reap: oomReapPath,
  exit: exitPath,
  unbind: unbindPath,
};

export function pathNameFor(s: Stimulus, _scheme: Scheme): string {
  if (s.op === 'ioctl' && s.cmd === 'VFIO_IOMMU_MAP_DMA') return 'map_dma';
  if (s.op === 'ioctl' && s.cmd === 'VFIO_IOMMU_UNMAP_DMA') return 'unmap_dma';
  if (s.op === 'munmap') return 'munmap';
  if (s.op === 'mm.reclaim') return 'reclaim';
  if (s.op === 'mm.oom_reap') return 'oom_reap';
  if (s.op === 'exit') return 'exit';
  if (s.op === 'device.unbind') return 'unbind';
  if (s.op === 'device.page_request') return 'page_request';
  if (s.op === 'sva.unbind') return 'sva_unbind';
  if (s.op === 'pci.command' || (s.op === 'ioctl' && s.cmd === 'VFIO_DEVICE_RESET')) return 'zap';
  return 'atomic';
}
