/**
 * The interpreter of machine actions: a machine returns the names of the effects its transition
 * asks for (machines/*.machine.ts); this table says what each name does to the world. It is the
 * one place where machine effects become world changes.
 */
import type { MachineName } from '../../machines/index.js';
import { containerOf, deviceOf, groupOf, mmOf } from '../core/lookup.js';
import { type Tx } from '../core/tx.js';
import { detachContainer, releaseIommu } from './vfio/files.js';
import { pasidDrop } from './mm/mm.js';
import { removeDevice } from './vfio/pci.js';
import { dmaByKey, unmapUnpin } from './vfio/type1.js';
import { ModelError } from '../vocab/errors.js';

type Handler = (tx: Tx, object: string) => void;

const HANDLERS: Record<string, Handler> = {
  'group.detachContainer': (tx, key) => detachContainer(tx, groupOf(tx.world, key)),
  'container.releaseIommu': (tx, id) => releaseIommu(tx, containerOf(tx.world, Number(id))),
  'mm.pasidDrop': (tx, id) => pasidDrop(tx, mmOf(tx.world, Number(id))),
  'vfio_dma.unmapUnpin': (tx, id) => {
    const { c, dma } = dmaByKey(tx, id);
    unmapUnpin(tx, c, dma, true);
  },
  'device.removeDevice': (tx, name) => removeDevice(tx, deviceOf(tx.world, name)),
};

/** Carries out, in order, the actions a machine transition returned. */
export function runActions(tx: Tx, machine: MachineName, object: string, actions: readonly string[]): void {
  for (const a of actions) {
    const h = HANDLERS[`${machine}.${a}`];
    if (h === undefined) throw new ModelError(`no handler for action ${machine}.${a}`);
    h(tx, object);
  }
}
