/** Every kernel-path machine, by the name the engine's path table uses (src/paths/). */
import { atomicConfig, atomicPath } from './atomic.machine.js';
import { invalidateRangeConfig, invalidateRangePath } from './invalidate-range.machine.js';
import { exitConfig, exitPath } from './exit.machine.js';
import { mapDmaConfig, mapDmaPath } from './map-dma.machine.js';
import { pageRequestConfig, pageRequestPath } from './page-request.machine.js';
import { svaUnbindConfig, svaUnbindPath } from './sva-unbind.machine.js';
import { unbindConfig, unbindPath } from './unbind.machine.js';
import { unmapDmaConfig, unmapDmaPath } from './unmap-dma.machine.js';
import { zapConfig, zapPath } from './zap.machine.js';

export const PATH_MACHINES = {
  atomic: atomicPath,
  map_dma: mapDmaPath,
  invalidate_range: invalidateRangePath,
  exit: exitPath,
  unbind: unbindPath,
  unmap_dma: unmapDmaPath,
  page_request_path: pageRequestPath,
  sva_unbind: svaUnbindPath,
  zap: zapPath,
} as const;

export type PathMachineName = keyof typeof PATH_MACHINES;

/** Each path machine's config, by the same name: src/paths/ types its steps by these. */
export const PATH_CONFIGS = {
  atomic: atomicConfig,
  map_dma: mapDmaConfig,
  invalidate_range: invalidateRangeConfig,
  exit: exitConfig,
  unbind: unbindConfig,
  unmap_dma: unmapDmaConfig,
  page_request_path: pageRequestConfig,
  sva_unbind: svaUnbindConfig,
  zap: zapConfig,
} as const;
