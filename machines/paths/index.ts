/** Every kernel-path machine, by the name the engine's path table uses (src/engine/paths/). */
import { atomicPath } from './atomic.machine.js';

export const PATH_MACHINES = {
  atomic: atomicPath,
} as const;

export type PathMachineName = keyof typeof PATH_MACHINES;
