import { describe, expect, it } from 'vitest';
import { cycleDetail, LockGraph } from '../../src/checks/lockdep.js';
import { lockCell, scenarioOf } from '../../src/checks/scenario.js';
import type { LockEdge } from '../../src/core/tx.js';
import { LOCK_CLASSES, LOCKDEP_NAMES, lockdepName } from '../../src/vocab/locks.js';

const edge = (e: Partial<LockEdge> & Pick<LockEdge, 'from' | 'to'>): LockEdge => ({ task: 't', where: 'w', chain: [e.from, e.to], ...e });

describe('lock names as lockdep prints them', () => {
  it('names every lock class by the expression its init macro stringifies', () => {
    expect(Object.keys(LOCKDEP_NAMES).sort()).toEqual(Object.keys(LOCK_CLASSES).sort());
    expect(lockdepName('iommu.lock#5')).toBe('&iommu->lock');
    expect(lockdepName('device_list_lock#5')).toBe('&iommu->device_list_lock');
    expect(lockdepName('mmap_lock#1')).toBe('&mm->mmap_lock');
    expect(lockdepName('memory_lock#0000:01:00.0')).toBe('&vdev->memory_lock');
    expect(lockdepName('container.group_lock#5')).toBe('&container->group_lock');
    expect(lockdepName('group.group_lock#26')).toBe('&group->group_lock');
    // vfio_assign_device_set: mutex_init(&new_dev_set->lock)
    expect(lockdepName('dev_set.lock#0000:01:00.0')).toBe('&new_dev_set->lock');
    expect(lockdepName('iommu_sva_lock')).toBe('iommu_sva_lock');
    expect(lockdepName('device_lock#0000:01:00.0')).toBe('&dev->mutex');
    expect(lockdepName('fs_reclaim')).toBe('fs_reclaim');
    expect(lockdepName('mmu_notifier_invalidate_range_start')).toBe('mmu_notifier_invalidate_range_start');
  });

  it('writes a read acquisition as rlock(), as print_circular_lock_scenario does', () => {
    expect(lockCell('mmap_lock#1', 'read')).toBe('rlock(&mm->mmap_lock);');
    expect(lockCell('iommu.lock#5', 'write')).toBe('lock(&iommu->lock);');
  });
});

describe("lockdep's unsafe locking scenario", () => {
  it('for two CPUs has the rows lockdep prints: CPU0 lock(A), CPU1 lock(B), CPU1 lock(A), CPU0 lock(B)', () => {
    const s = scenarioOf('lock-order', [
      { task: 'CPU0', holds: ['lock(A);'], wants: 'lock(B);' },
      { task: 'CPU1', holds: ['lock(B);'], wants: 'lock(A);' },
    ]);
    expect(s.rows).toEqual([
      ['lock(A);', ''],
      ['', 'lock(B);'],
      ['', 'lock(A);'],
      ['lock(B);', ''],
    ]);
  });

  it('gives a cycle of three edges three CPUs, the one that closed the cycle first', () => {
    const g = new LockGraph();
    expect(g.add(edge({ from: 'iommu.lock', to: 'mmap_lock', task: 'map', where: 'map_dma.register', step: { path: 'map_dma', state: 'register', op: 'ioctl' } }))).toBeNull();
    expect(g.add(edge({ from: 'mmap_lock', to: 'fs_reclaim', task: 'x', where: 'y' }))).toBeNull();
    const cycle = g.add(edge({ from: 'fs_reclaim', to: 'iommu.lock', task: 'reclaim', where: 'reclaim.callback', fromMode: 'write', toMode: 'write' }))!;
    const d = cycleDetail(cycle);
    expect(d.scenario!.tasks).toEqual(['CPU0', 'CPU1', 'CPU2']);
    expect(d.scenario!.rows.map((r) => r.join('|'))).toEqual([
      'lock(fs_reclaim);||',
      '|lock(&iommu->lock);|',
      '||lock(&mm->mmap_lock);',
      '||lock(fs_reclaim);',
      '|lock(&mm->mmap_lock);|',
      'lock(&iommu->lock);||',
    ]);
    expect(d.chain!.map((l) => `${l.from} -> ${l.to}`)).toEqual(['fs_reclaim -> &iommu->lock', '&iommu->lock -> &mm->mmap_lock', '&mm->mmap_lock -> fs_reclaim']);
    // the step's kernel function comes from its steps file
    expect(d.chain![1]!.function).toMatch(/^mm\/mmu_notifier\.c:mmu_notifier_register/);
    expect(d.chain![0]!.function).toBeUndefined();
  });

  it('names the entry point of a one-step stimulus as the function that recorded its edge', () => {
    const d = cycleDetail([
      edge({ from: 'device_list_lock', to: 'iommu.lock', step: { path: 'atomic', state: 'run', op: 'mdev.unpin_pages' } }),
      edge({ from: 'iommu.lock', to: 'device_list_lock', step: { path: 'unmap_dma', state: 'notify', op: 'ioctl' } }),
    ]);
    expect(d.chain![0]!.function).toBe('drivers/vfio/vfio_iommu_type1.c:vfio_iommu_type1_unpin_pages');
    expect(d.chain![1]!.function).toMatch(/vfio_iommu_type1\.c:vfio_notify_dma_unmap/);
  });
});
