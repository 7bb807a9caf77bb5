/**
 * An SVA bond: iommu_sva_bind_device() / iommu_sva_unbind_device(), drivers/iommu/iommu-sva.c.
 *
 * States:
 *   bound    the device's PASID entry points at the mm's page tables (iommu_attach_device_pasid)
 *   cleared  the mm exited: the MMU-notifier release disabled translation for the PASID
 *            (arm-smmu-v3-sva.c: arm_smmu_mm_release writes a quiet CD; VT-d intel_mm_release)
 *   unbound  iommu_detach_device_pasid ran; pending page requests were answered INVALID
 */
import { setup } from 'xstate';

export type SvaBondEvent = { type: 'MM_RELEASE' } | { type: 'UNBIND' };

export const svaBondMachine = setup({
  types: { events: {} as SvaBondEvent },
}).createMachine({
  id: 'sva_bond',
  initial: 'bound',
  states: {
    bound: { on: { MM_RELEASE: 'cleared', UNBIND: 'unbound' } },
    cleared: { on: { UNBIND: 'unbound' } },
    unbound: { type: 'final' },
  },
});
