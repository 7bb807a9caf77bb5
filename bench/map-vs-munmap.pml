/*
 * The map-vs-munmap race under the naive notifier scheme
 * (test/fixtures/schemes/notifier-takes-iommu-lock.mjs), as a Promela model for SPIN: the anchor
 * `npm run bench` times `check` against (time to the first deadlock, end to end).
 *
 *   map:    vfio_dma_do_map takes mutex_lock(&iommu->lock), then vfio_pin_pages_remote ->
 *           vaddr_get_pfns takes mmap_read_lock(mm) to pin (drivers/vfio/vfio_iommu_type1.c).
 *   munmap: __vm_munmap takes mmap_write_lock_killable(mm) (mm/mmap.c), then the unmap's
 *           mmu_notifier_invalidate_range_start calls type1's notifier, which (in this scheme)
 *           takes iommu->lock to unmap and unpin the range.
 *
 * The opposite orders deadlock; pan reports it as an invalid end state.
 *   spin -a bench/map-vs-munmap.pml && cc -O2 -DSAFETY -o pan pan.c && ./pan
 */
bit iommu_lock;     /* struct mutex: 1 while held */
byte mmap_readers;  /* rw_semaphore mmap_lock: readers in, */
bit mmap_writer;    /* and 1 while the writer holds it */

inline mutex_lock(m)   { atomic { m == 0 -> m = 1 } }
inline mutex_unlock(m) { m = 0 }
inline mmap_read_lock()    { atomic { mmap_writer == 0 -> mmap_readers++ } }
inline mmap_read_unlock()  { mmap_readers-- }
inline mmap_write_lock()   { atomic { mmap_writer == 0 && mmap_readers == 0 -> mmap_writer = 1 } }
inline mmap_write_unlock() { mmap_writer = 0 }

active proctype map_dma() {
  mutex_lock(iommu_lock);      /* vfio_dma_do_map */
  mmap_read_lock();            /* vaddr_get_pfns: pin_user_pages_remote */
  mmap_read_unlock();
  mutex_unlock(iommu_lock)
}

active proctype munmap() {
  mmap_write_lock();           /* __vm_munmap */
  mutex_lock(iommu_lock);      /* the notifier's invalidate_range_start callback */
  mutex_unlock(iommu_lock);
  mmap_write_unlock()
}
