/**
 * A BAR zap as a kernel path: a PCI_COMMAND write through the config region
 * (drivers/vfio/pci/vfio_pci_config.c vfio_basic_config_write) or VFIO_DEVICE_RESET
 * (drivers/vfio/pci/vfio_pci_core.c vfio_pci_ioctl_reset) takes down_write(memory_lock); clearing
 * MEMORY or resetting zaps the BARs (vfio_pci_zap_bars -> unmap_mapping_range over the device
 * inode), which invalidates every mm that maps one (mmu_notifier_invalidate_range_start), one
 * callback per subscriber; then invalidate_range_end, the write or the reset itself, and
 * up_write(memory_lock).
 *
 * Steps: src/paths/zap.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: memory_lock (write), then the lockdep map mmu_notifier_invalidate_range_start,
 * then whatever a callback takes (dma-buf schemes: the buffer's dma_resv).
 *
 * States:
 *   enter     nothing done; next: memory_lock; a write that zaps nothing runs here and returns;
 *             else revoke (dma-buf schemes) and invalidate_range_start on every mapping mm
 *   callback  inside the invalidations; next: one subscriber's callback
 *   leave     every callback ran; next: invalidate_range_end, the write or reset, unlock
 *   done      returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const zapConfig = {
  id: 'zap',
  initial: 'enter',
  states: {
    enter: { on: { CALLBACK: 'callback', END: 'leave', RETURN: 'done' } },
    callback: { on: { NEXT: 'callback', END: 'leave' } },
    leave: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const zapPath = setup({ types: { events: {} as PathEvent<typeof zapConfig> } }).createMachine(zapConfig);

export type ZapEvent = PathEvent<typeof zapConfig>;
