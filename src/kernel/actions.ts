/**
 * What each object machine's actions do to the world (machines/*.machine.ts name them; this
 * table carries them out, and Tx.fire runs them). The table is typed by the machines: a machine
 * action without a handler here, or a handler for an action no machine has, is a compile error.
 */
/**
 * What each object machine's actions do to the world (machines/*.machine.ts name them; this
 * table carries them out, and Tx.fire runs them). The table is typed by the machines: a machine
 * action without a handler here, or a handler for an action no machine has, is a compile error.
 */
import type { ActionTable } from '../core/tx.js';
import { containerOf, deviceOf, groupOf, mmOf } from '../core/lookup.js';
import { releaseIommu } from './vfio/container.js';
import { detachContainer } from './vfio/group.js';
import { pasidDrop } from './mm/mm.js';
import { removeDevice } from './vfio/device.js';
import { dmaByKey } from './vfio/type1/dma-tree.js';
import { unmapUnpin } from './vfio/type1/unmap.js';

export const ACTIONS: ActionTable = {
  group: { detachContainer: (tx, key) => detachContainer(tx, groupOf(tx.world, key)) },
  container: { releaseIommu: (tx, id) => releaseIommu(tx, containerOf(tx.world, Number(id))) },
  mm: { pasidDrop: (tx, id) => pasidDrop(tx, mmOf(tx.world, Number(id))) },
  vfio_dma: {
    unmapUnpin: (tx, key) => {
      const { c, dma } = dmaByKey(tx, key);
      unmapUnpin(tx, c, dma, true);
    },
  },
  device: { removeDevice: (tx, name) => removeDevice(tx, deviceOf(tx.world, name)) },
};
