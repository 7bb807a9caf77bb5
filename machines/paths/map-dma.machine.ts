/**
 * VFIO_IOMMU_MAP_DMA as a kernel path: drivers/vfio/vfio_iommu_type1.c
 * vfio_iommu_type1_map_dma -> vfio_dma_do_map -> vfio_pin_map_dma -> vfio_pin_pages_remote
 * (vaddr_get_pfns, vfio_lock_acct) -> vfio_iommu_map.
 *
 * Steps: src/paths/map-dma.ts (one step per non-final state, each naming the kernel function it mirrors).
 *
 * Lock order: iommu->lock, then mmap_lock (read in vaddr_get_pfns; write in vfio_lock_acct),
 * with memory_lock (read) nested in mmap_lock when a PFNMAP BAR is faulted in
 * (follow_fault_pfn -> fixup_user_fault -> vfio_pci_mmap_huge_fault); iommu_map allocates with
 * GFP_KERNEL_ACCOUNT under iommu->lock (fs_reclaim).
 *
 * States (the points between atomic steps):
 *   validate  nothing done; the argument checks made before iommu->lock (steps 2-4)
 *   lock      arguments valid; next: take iommu->lock, check, link the dma with size 0
 *   register  (schemes with a type1 MMU notifier) the dma is linked; next: mmu_notifier_register
 *             under mmap_write_lock
 *   pin       the dma is linked; next: mmap_read_lock, pin / fault in, mmap_read_unlock
 *   account   pinned; next: vfio_lock_acct under mmap_write_lock
 *   map       charged; next: iommu_map into the domain, mutex_unlock, return 0 (dma-buf
 *             scheme: under the reservation lock, fail if the buffer was revoked meanwhile)
 *   unwind    pinning failed; next: vfio_remove_dma, mutex_unlock, return the error
 *
 * Under a scheme with pfnmap 'interval', a range that is all PFNMAP (a BAR) is mapped without
 * pins by the protocol of Documentation/mm/hmm.rst (mm/mmu_notifier.c):
 *   insert    the dma is linked; next: mmu_interval_notifier_insert on its user range
 *   begin     next: seq = mmu_interval_read_begin (waits while an overlapping invalidation runs)
 *   fault     next: mmap_read_lock, fault the BAR in (memory_lock read), mmap_read_unlock
 *   program   next: take the driver's update lock; if mmu_interval_read_retry, drop it and
 *             begin again; else map the pfns into the IOMMU, unlock both, return 0
 *   done      returned
 */
import { setup } from 'xstate';
import type { PathEvent } from './path.js';

export const mapDmaConfig = {
  id: 'map_dma',
  initial: 'validate',
  states: {
    validate: { on: { VALID: 'lock', RETURN: 'done' } },
    lock: { on: { LINKED: 'pin', REGISTER: 'register', INSERT: 'insert', RETURN: 'done' } },
    insert: { on: { BEGIN: 'begin' } },
    begin: { on: { FAULT: 'fault' } },
    fault: { on: { PROGRAM: 'program', FAILED: 'unwind' } },
    program: { on: { RETRY: 'begin', RETURN: 'done' } },
    register: { on: { REGISTERED: 'pin' } },
    pin: { on: { PINNED: 'account', FAILED: 'unwind' } },
    account: { on: { ACCOUNTED: 'map' } },
    map: { on: { RETURN: 'done', FAILED: 'unwind' } },
    unwind: { on: { RETURN: 'done' } },
    done: { type: 'final' },
  },
} as const;

export const mapDmaPath = setup({ types: { events: {} as PathEvent<typeof mapDmaConfig> } }).createMachine(mapDmaConfig);

export type MapDmaEvent = PathEvent<typeof mapDmaConfig>;
