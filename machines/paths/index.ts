/** Every kernel-path machine, by the name the engine's path table uses (src/engine/paths/). */
import { atomicPath } from './atomic.machine.js';
import { mapDmaPath } from './map-dma.machine.js';

export const PATH_MACHINES = {
  atomic: atomicPath,
  map_dma: mapDmaPath,
} as const;

export type PathMachineName = keyof typeof PATH_MACHINES;
