/**
 * A VFIO container (/dev/vfio/vfio), drivers/vfio/container.c.
 *
 * States:
 *   noDriver  container->iommu_driver == NULL (fresh, or every group detached)
 *   type1     vfio_iommu_type1 set by VFIO_SET_IOMMU (v1 or v2 in the world data)
 *   noiommu   vfio-noiommu set by VFIO_SET_IOMMU(VFIO_NOIOMMU_IOMMU)
 *   freed     kref dropped to 0 (vfio_container_release)
 *
 * Lock: container->group_lock (rwsem) is taken for write by SET_IOMMU, attach and detach.
 */
import { setup } from 'xstate';

export type ContainerEvent =
  | { type: 'SET_IOMMU_TYPE1' }
  | { type: 'SET_IOMMU_NOIOMMU' }
  | { type: 'LAST_GROUP_DETACHED' }
  | { type: 'LAST_REF_DROPPED' };

export const containerMachine = setup({
  types: { events: {} as ContainerEvent },
  actions: {
    /**
     * container.c:vfio_group_detach_container(): the last group's detach calls
     * ops->release(iommu_data), which for type1 unmaps and unpins every vfio_dma.
     */
    releaseIommu: () => {},
  },
}).createMachine({
  id: 'container',
  initial: 'noDriver',
  states: {
    noDriver: {
      on: {
        SET_IOMMU_TYPE1: 'type1',
        SET_IOMMU_NOIOMMU: 'noiommu',
        LAST_REF_DROPPED: 'freed',
      },
    },
    type1: { on: { LAST_GROUP_DETACHED: { target: 'noDriver', actions: 'releaseIommu' } } },
    noiommu: { on: { LAST_GROUP_DETACHED: { target: 'noDriver', actions: 'releaseIommu' } } },
    freed: { type: 'final' },
  },
});
