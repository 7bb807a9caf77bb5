/**
 * A PFNMAP vma of a vfio-pci BAR (drivers/vfio/pci/vfio_pci_core.c: vfio_pci_core_mmap,
 * vfio_pci_mmap_huge_fault, vfio_pci_zap_bars).
 *
 * States:
 *   empty      no PTEs: vfio_pci_core_mmap installs none, and a zap removes them all
 *   populated  the fault handler inserted pfns under down_read(memory_lock): since v6.12 the
 *              faulting page's (the vma's `pages` lists them), before v6.12 the whole vma's
 *   gone       munmap or exit_mmap removed the vma
 *
 * A fault with memory decode disabled is VM_FAULT_SIGBUS and inserts nothing.
 */
import { setup } from 'xstate';

export type BarMappingEvent = { type: 'FAULT' } | { type: 'ZAP' } | { type: 'UNMAP' };

export const barMappingMachine = setup({
  types: { events: {} as BarMappingEvent },
}).createMachine({
  id: 'bar_mapping',
  initial: 'empty',
  states: {
    empty: { on: { FAULT: 'populated', ZAP: 'empty', UNMAP: 'gone' } },
    populated: { on: { FAULT: 'populated', ZAP: 'empty', UNMAP: 'gone' } },
    gone: { type: 'final' },
  },
});
