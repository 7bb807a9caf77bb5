/**
 * vfio-pci's function reset (drivers/vfio/pci/vfio_pci_core.c:vfio_pci_ioctl_reset).
 */

import { Tx, type Outcome } from '../../../core/tx.js';
import type { Device } from '../../../core/world.js';
import { zapBars } from './bar.js';

/**
 * VFIO_DEVICE_RESET: !reset_works -> EINVAL; down_write(memory_lock), zap the BARs,
 * pci_try_reset_function; the command register is restored by the reset's save/restore of
 * config state.
 */
export function resetFunction(tx: Tx, d: Device): Outcome {
  tx.cascade('device.reset', { device: d.name }, () => zapBars(tx, d));
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_ioctl_reset' };
}
