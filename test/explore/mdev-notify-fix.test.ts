/**
 * The device_list_lock inversion of docs/findings/mdev-device-list-lock-inversion.md, and the
 * fix it proposes (scheme mdev-notify-unlocked): upstream records iommu->lock ->
 * device_list_lock (the mdev's registration at its first open, and vfio_notify_dma_unmap) and
 * device_list_lock -> iommu->lock (the vendor's vfio_unpin_pages inside dma_unmap); the fix
 * never takes device_list_lock under iommu->lock, so neither mdev scenario deadlocks or cycles.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explore, scenarioOf, type Scenario } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import type { Scheme } from '../../src/schemes/scheme.js';

function scenario(name: string): Scenario {
  const file = join(import.meta.dirname, '..', '..', 'src', 'scenarios', `${name}.jsonl`);
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  return scenarioOf(header, items, file);
}

const scheme = (name: string): Scheme => builtinScheme(name)!;

describe('the device_list_lock inversion', () => {
  it('upstream deadlocks two UNMAP_DMAs of mdev-pinned dmas and records the lock-order cycle', () => {
    const r = explore(scenario('mdev-unmap-vs-unmap'), scheme('upstream'), { maxStates: 200_000 });
    expect(r.findings.map((f) => f.property).sort()).toEqual(['LockOrder', 'NoDeadlock']);
    expect(r.findings.find((f) => f.property === 'LockOrder')!.message).toContain('device_list_lock -> iommu.lock -> device_list_lock');
  });

  it("upstream records iommu->lock -> device_list_lock at the mdev's first open (vfio_iommu_type1_register_device)", () => {
    const r = explore(scenario('mdev-unmap-while-pinned'), scheme('upstream'), { maxStates: 200_000 });
    expect(r.findings.find((f) => f.property === 'LockOrder')!.message).toContain('at ioctl VFIO_GROUP_GET_DEVICE_FD: group.group_lock -> dev_set.lock -> iommu.lock -> device_list_lock');
  });

  it.each(['mdev-unmap-vs-unmap', 'mdev-unmap-while-pinned'])('the proposed fix keeps every property on %s, exhausting the search', (name) => {
    const r = explore(scenario(name), scheme('mdev-notify-unlocked'), { maxStates: 200_000 });
    expect(r.exhausted).toBe(true);
    expect(r.findings).toEqual([]);
  });
});
