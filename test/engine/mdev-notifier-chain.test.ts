/**
 * Before v6.0 (rule vfio-dma-unmap-callback, ce4b4657ff18 "vfio: Replace the DMA unmapping
 * notifier with a callback") vfio_dma_do_unmap dropped iommu->lock and called the mdev vendors
 * through blocking_notifier_call_chain(&iommu->notifier, ...), under the chain's rwsem for read;
 * a vendor registered its notifier block under that rwsem for write alone
 * (vfio_iommu_type1_register_notifier -> blocking_notifier_chain_register). Nothing is taken
 * under iommu->lock, so the mdev scenarios that deadlock since v6.0 have no cycle
 * (docs/findings/mdev-device-list-lock-inversion.md, "Affected kernels").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { explore, scenarioOf } from '../../src/run/explore.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { policyOf } from '../../src/schemes/policies/index.js';
import { upstream } from '../../src/schemes/scheme.js';
import { deviceListLocks } from '../../src/kernel/vfio/type1/attach.js';
import { lockdepName } from '../../src/vocab/locks.js';
import { onlyContainer, prefix, probe } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const load = (file: string, kernel?: string) => {
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  return scenarioOf(kernel === undefined ? header : { ...header, kernel: kernel as never }, items, file);
};
const scenario = (name: string) => join(root, 'src', 'scenarios', `${name}.jsonl`);
const properties = (r: ReturnType<typeof explore>) => r.findings.map((f) => f.property).sort();

describe('the pre-v6.0 DMA-unmap notifier chain', () => {
  it('explores mdev-unmap-vs-unmap under kernel 5.19 (test/fixtures) with every property holding', () => {
    const r = explore(load(join(root, 'test', 'fixtures', 'mdev-unmap-vs-unmap-5.19.jsonl')), upstream, { maxStates: 200_000 });
    expect(r.kernel).toBe('5.19');
    expect(r.exhausted).toBe(true);
    expect(r.findings).toEqual([]);
  });

  it('still finds NoDeadlock and LockOrder on the same scenario under v6.18 and v6.0', () => {
    expect(properties(explore(load(scenario('mdev-unmap-vs-unmap')), upstream, { maxStates: 200_000 }))).toEqual(['LockOrder', 'NoDeadlock']);
    expect(properties(explore(load(scenario('mdev-unmap-vs-unmap'), '6.0'), upstream, { maxStates: 200_000 }))).toEqual(['LockOrder', 'NoDeadlock']);
  });

  it.each(['mdev-unmap-vs-unmap', 'mdev-unmap-while-pinned'])('has no cycle on %s under 5.19, with gvt as the vendor too', (name) => {
    for (const scheme of [upstream, builtinScheme('mdev-vendor-gvt')!]) {
      const r = explore(load(scenario(name), '5.19'), scheme, { maxStates: 200_000 });
      expect(r.exhausted).toBe(true);
      expect(r.findings).toEqual([]);
    }
  });

  it("registers an mdev under the chain's rwsem for write alone before v6.0, under iommu->lock then device_list_lock since", () => {
    const old = onlyContainer(probe(prefix({ mdev: true }), 'upstream', '5.19').world);
    expect(old.type1!.notifierChain).toBe(true);
    expect(deviceListLocks(old, policyOf(upstream))).toEqual([{ lock: `iommu.notifier#${old.id}`, mode: 'write' }]);
    const now = onlyContainer(probe(prefix({ mdev: true }), 'upstream', '6.0').world);
    expect(deviceListLocks(now, policyOf(upstream))).toEqual([
      { lock: `iommu.lock#${now.id}`, mode: 'write' },
      { lock: `device_list_lock#${now.id}`, mode: 'write' },
    ]);
  });

  it('names the chain\'s rwsem as lockdep does: BLOCKING_INIT_NOTIFIER_HEAD(&iommu->notifier) -> init_rwsem(&(name)->rwsem)', () => {
    expect(lockdepName('iommu.notifier#5')).toBe('&(&iommu->notifier)->rwsem');
  });
});
