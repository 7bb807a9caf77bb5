/** Every object machine, by the name the engine and the records use. */
import type { EventFrom, StateMachine } from 'xstate';
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

/** The event names an object machine accepts (a misspelt event is a compile error). */
export type ObjectEvent<M extends ObjectMachineName> = EventFrom<(typeof MACHINES)[M]>['type'];

/** The names of the actions an object machine's transitions run. */
export type ObjectAction<M extends ObjectMachineName> =
  (typeof MACHINES)[M] extends StateMachine<any, any, any, any, infer A, any, any, any, any, any, any, any, any, any, any> ? A['type'] : never; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The object machines whose transitions run actions: the engine must have a handler for each. */
export type MachineWithActions = { [M in ObjectMachineName]: [ObjectAction<M>] extends [never] ? never : M }[ObjectMachineName];
