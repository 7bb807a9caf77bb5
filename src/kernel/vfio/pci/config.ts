/**
 * vfio-pci's virtualised config space (drivers/vfio/pci/vfio_pci_config.c): the PCI_COMMAND
 * memory-enable bit.
 */

import { processOf, fdFile, deviceOf } from '../../../core/lookup.js';
import { Tx, type Outcome } from '../../../core/tx.js';
import type { StimulusOf } from '../../../vocab/records.js';
import { zapBars } from './bar.js';
import { assertHeld } from '../../../core/locks.js';
import { lockOf } from '../../../vocab/locks.js';

/**
 * The `pci.command` stimulus: the user writes PCI_COMMAND through the config region;
 * vfio_pci_config.c:vfio_basic_config_write takes memory_lock for write, and a write with
 * MEMORY clear zaps the BARs every time (docs/kernel-notes.md 4b).
 */
export function pciCommand(tx: Tx, s: StimulusOf<'pci.command'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const f = fdFile(tx, p, s.fd);
  if (f.kind !== 'device') tx.fail('EINVAL', 'fs/read_write.c:vfs_write: the file has no config region');
  const d = deviceOf(tx.world, f.device!);
  if (!s.memory && !d.mdev) zapBars(tx, d);
  if (!d.mdev) assertHeld(tx, lockOf.memory(d.name), `${d.name}'s virtual PCI_COMMAND`, 'write'); // vfio_basic_config_write: down_write(&vdev->memory_lock) around the vconfig update; __vfio_pci_memory_enabled: "Caller should hold memory_lock semaphore"
  if (d.memoryEnabled !== s.memory) tx.emit('pci.memory', { device: d.name, enabled: s.memory });
  d.memoryEnabled = s.memory;
  return { ret: 0n, decidedBy: 'vfio_pci_config.c:vfio_basic_config_write' };
}
