/** Every object machine, by the name the engine and the records use. */
import { barMappingMachine } from './bar-mapping.machine.js';
import { containerMachine } from './container.machine.js';
import { deviceMachine } from './device.machine.js';
import { groupMachine } from './group.machine.js';
import { mmMachine } from './mm.machine.js';
import { pageRequestMachine } from './page-request.machine.js';
import { pasidMachine } from './pasid.machine.js';
import { processMachine } from './process.machine.js';
import { svaBondMachine } from './sva-bond.machine.js';
import { vfioDmaMachine } from './vfio-dma.machine.js';
import { PATH_MACHINES } from './paths/index.js';

export const MACHINES = {
  process: processMachine,
  mm: mmMachine,
  container: containerMachine,
  group: groupMachine,
  device: deviceMachine,
  vfio_dma: vfioDmaMachine,
  bar_mapping: barMappingMachine,
  pasid: pasidMachine,
  page_request: pageRequestMachine,
  sva_bond: svaBondMachine,
} as const;

export type ObjectMachineName = keyof typeof MACHINES;

/** Object machines and path machines together: what the stepper can step. */
export const ALL_MACHINES = { ...MACHINES, ...PATH_MACHINES } as const;

export type MachineName = keyof typeof ALL_MACHINES;
