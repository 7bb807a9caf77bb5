/**
 * Policy point `pasidFree`: when a PASID returns to the allocator, and what an unbind drains
 * first. One entry per value; src/kernel/iommu/sva.ts, src/kernel/mm/{mm,exit}.ts,
 * src/kernel/vfio/device.ts and src/paths/sva-unbind.ts ask these questions.
 */
import type { Scheme } from '../scheme.js';

export type PasidRelease = { readonly how: 'FREE' | 'LEAK'; readonly why: string };

export interface PasidPolicy {
  /** The device file has VFIO_DEVICE_BIND_TASK / UNBIND_TASK (the 2017 RFC). */
  readonly bindTaskIoctls: boolean;
  /** The last unbind flushes the fault queue and answers what is pending (v5.18+). */
  readonly drainsAtUnbind: boolean;
  /** __mmput frees the PASID while the IOMMU still holds the mm (v5.18-rc). */
  readonly freedAtMmput: boolean;
  /** What __mmdrop -> mm_pasid_drop does with the PASID. */
  readonly atMmdrop: 'FREE' | 'LEAK';
  /** What the mm's last unbind does with its PASID (the unbind's release flags), if anything. */
  atLastUnbind(flags: 'none' | 'FLUSHED' | 'CLEAN'): PasidRelease | null;
}

const keepsIt = (): null => null;

export const PASID_FREE: { readonly [V in Scheme['pasidFree']]: PasidPolicy } = {
  /** Upstream (v5.19+): the PASID lives as long as the mm_struct: freed at __mmdrop. */
  mmdrop: { bindTaskIoctls: false, drainsAtUnbind: true, freedAtMmput: false, atMmdrop: 'FREE', atLastUnbind: keepsIt },
  /** Before v5.18 (ioasid, v5.10-v5.17): freed at the last unbind, with no drain of page requests. */
  unbind: {
    bindTaskIoctls: false,
    drainsAtUnbind: false,
    freedAtMmput: false,
    atMmdrop: 'FREE',
    atLastUnbind: () => ({ how: 'FREE', why: 'the last unbind freed the PASID (ioasid, v5.10-v5.17)' }),
  },
  /** v5.18-rc: freed in __mmput, when the mm's users drop, while the IOMMU still holds the mm. */
  mmput: { bindTaskIoctls: false, drainsAtUnbind: true, freedAtMmput: true, atMmdrop: 'FREE', atLastUnbind: keepsIt },
  /**
   * The 2017 RFC (seed 001): VFIO_DEVICE_BIND_TASK / UNBIND_TASK; a PASID released without
   * VFIO_SVM_PASID_RELEASE_FLUSHED or _CLEAN is never reused.
   */
  'bind-task-flags': {
    bindTaskIoctls: true,
    drainsAtUnbind: true,
    freedAtMmput: false,
    atMmdrop: 'LEAK',
    atLastUnbind: (flags) =>
      flags === 'none'
        ? { how: 'LEAK', why: 'VFIO_DEVICE_UNBIND_TASK without FLUSHED or CLEAN: never reused (2017 RFC)' }
        : { how: 'FREE', why: `VFIO_SVM_PASID_RELEASE_${flags}` },
  },
};
