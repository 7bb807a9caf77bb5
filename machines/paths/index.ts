/** Every kernel-path machine, by the name the engine's path table uses (src/paths/). */
import { atomicPath } from './atomic.machine.js';
import { invalidateRangePath } from './invalidate-range.machine.js';
import { exitPath } from './exit.machine.js';
import { mapDmaPath } from './map-dma.machine.js';
import { pageRequestPath } from './page-request.machine.js';
import { svaUnbindPath } from './sva-unbind.machine.js';
import { unbindPath } from './unbind.machine.js';
import { unmapDmaPath } from './unmap-dma.machine.js';

export const PATH_MACHINES = {
  atomic: atomicPath,
  map_dma: mapDmaPath,
  invalidate_range: invalidateRangePath,
  exit: exitPath,
  unbind: unbindPath,
  unmap_dma: unmapDmaPath,
  page_request_path: pageRequestPath,
  sva_unbind: svaUnbindPath,
} as const;

export type PathMachineName = keyof typeof PATH_MACHINES;
