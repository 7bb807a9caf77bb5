/**
 * The locks of the mdev pin paths, as drivers/vfio/vfio_iommu_type1.c takes them: iommu->lock
 * across vfio_iommu_type1_pin_pages / _unpin_pages; inside it, in turn, mmap_read_lock(dma->mm)
 * (vaddr_get_pfns) and mmap_write_lock_killable(dma->mm) (vfio_lock_acct -> mm_lock_acct) for a
 * page pinned afresh, and only the write lock for an unpin that drops the last reference; the
 * vendor's own lock (scheme point mdevVendor) outside iommu->lock, on the pin path and around the
 * dma_unmap callback.
 */
import { describe, expect, it } from 'vitest';
import { mdevInnerLocks, mdevLocks } from '../../src/kernel/vfio/mdev.js';
import { vendorDmaUnmapLocks } from '../../src/kernel/drivers/mdev-vendors.js';
import { policyOf } from '../../src/schemes/policies/index.js';
import { upstream } from '../../src/schemes/scheme.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { checkScheme } from '../../src/schemes/scheme.js';
import type { StimulusOf } from '../../src/vocab/records.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { explore, scenarioOf } from '../../src/run/explore.js';
import { parseLog } from '../../src/log/reader.js';
import { defineScheme } from '../../src/schemes/scheme.js';
import { hex, mapDma, MDEV, ok, onlyContainer, prefix, probe, unmapDma, VA } from './helpers.js';

const v2 = [...prefix({ mdev: true, openDevice: true }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];
const pinRec = (iova: bigint, npage: number, expect: number) => ({ op: 'mdev.pin_pages', device: MDEV, iova: hex(iova), npage, expect: { ret: expect } });
const pin = (iova: bigint, npage: number): StimulusOf<'mdev.pin_pages'> => ({ op: 'mdev.pin_pages', device: MDEV, iova, npage, seq: 99, line: 99 }) as unknown as StimulusOf<'mdev.pin_pages'>;
const unpin = (iova: bigint, npage: number): StimulusOf<'mdev.unpin_pages'> => ({ op: 'mdev.unpin_pages', device: MDEV, iova, npage, seq: 99, line: 99 }) as unknown as StimulusOf<'mdev.unpin_pages'>;
const gvt = builtinScheme('mdev-vendor-gvt')!;

describe('the locks of vfio_pin_pages and vfio_unpin_pages', () => {
  it('holds iommu->lock alone across the call under a vendor without a lock of its own (generic)', () => {
    const r = probe(v2);
    const c = onlyContainer(r.world);
    expect(mdevLocks(r.world, pin(0n, 1), policyOf(upstream))).toEqual([{ lock: `iommu.lock#${c.id}`, mode: 'write' }]);
    expect(mdevLocks(r.world, unpin(0n, 1), policyOf(upstream))).toEqual([{ lock: `iommu.lock#${c.id}`, mode: 'write' }]);
  });

  it("takes gvt's vgpu->cache_lock before iommu->lock under mdev-vendor-gvt (intel_gvt_dma_map_guest_page -> gvt_pin_guest_page)", () => {
    const r = probe(v2);
    const c = onlyContainer(r.world);
    expect(mdevLocks(r.world, pin(0n, 1), policyOf(gvt)).map((l) => l.lock)).toEqual([`gvt.cache_lock#${MDEV}`, `iommu.lock#${c.id}`]);
  });

  it('takes the mapping owner mmap_lock for read (vaddr_get_pfns), then for write (vfio_lock_acct), for a page not yet pinned', () => {
    const r = probe(v2);
    const mm = onlyContainer(r.world).type1!.dmas.valuesArray()[0]!.mm;
    expect(mdevInnerLocks(r.world, pin(0n, 2))).toEqual([
      { lock: `mmap_lock#${mm}`, mode: 'read' },
      { lock: `mmap_lock#${mm}`, mode: 'write' },
    ]);
  });

  it('takes no mmap_lock to pin a page already in the pfn_list (vfio_iova_get_vfio_pfn: ref_count++)', () => {
    const r = probe([...v2, pinRec(0n, 1, 1)]);
    expect(mdevInnerLocks(r.world, pin(0n, 1))).toEqual([]);
  });

  it("takes only the owner's mmap_lock for write to unpin a page's last reference, and none while other references remain", () => {
    const once = probe([...v2, pinRec(0n, 1, 1)]);
    const mm = onlyContainer(once.world).type1!.dmas.valuesArray()[0]!.mm;
    expect(mdevInnerLocks(once.world, unpin(0n, 1))).toEqual([{ lock: `mmap_lock#${mm}`, mode: 'write' }]);
    const twice = probe([...v2, pinRec(0n, 1, 1), pinRec(0n, 1, 1)]);
    expect(mdevInnerLocks(twice.world, unpin(0n, 1))).toEqual([]);
  });
});

describe("the locks of the vendors' dma_unmap callbacks (vfio_notify_dma_unmap)", () => {
  it('takes iommu->lock and, to uncharge, the owner mmap_lock for write; under gvt vgpu->cache_lock first', () => {
    const r = probe([...v2, pinRec(0n, 1, 1)]);
    const c = onlyContainer(r.world);
    const mm = c.type1!.dmas.valuesArray()[0]!.mm;
    expect(vendorDmaUnmapLocks(r.world, policyOf(upstream), c, 0n, 0x200000n).map((l) => `${l.lock}:${l.mode}`)).toEqual([`iommu.lock#${c.id}:write`, `mmap_lock#${mm}:write`]);
    expect(vendorDmaUnmapLocks(r.world, policyOf(gvt), c, 0n, 0x200000n).map((l) => l.lock)).toEqual([`gvt.cache_lock#${MDEV}`, `iommu.lock#${c.id}`, `mmap_lock#${mm}`]);
  });

  it('records the longer inversion iommu->lock -> device_list_lock -> cache_lock -> iommu->lock when the vendor is gvt', () => {
    const r = probe([...v2, pinRec(0x1000n, 2, 2), unmapDma(0n, 0x200000n, [], { expect: { ret: 0, out: { size: '0x200000' } } })], 'mdev-vendor-gvt');
    expect(r.world.devices.get(MDEV)?.vendorPins.size).toBe(0);
    expect([...new Set(r.report.violations.map((v) => v.property))]).toEqual(['LockOrder']);
    expect(r.report.violations.some((v) => v.message.includes('device_list_lock -> gvt.cache_lock -> iommu.lock -> device_list_lock'))).toBe(true);
  });
});

describe('the mdevVendor policy point', () => {
  it("defaults to 'generic' and accepts only generic, gvt and vfio-ap", () => {
    expect(upstream.mdevVendor).toBe('generic');
    const base = { name: 'x', summary: 'x', source: 'x' };
    expect(checkScheme({ ...base, mdevVendor: 'vfio-ap' })).toBeNull();
    expect(checkScheme({ ...base, mdevVendor: 'ccw' })?.field).toBe('mdevVendor');
  });

  it("gives vfio-ap's single matrix_dev->mdevs_lock for every mdev", () => {
    const p = policyOf({ ...upstream, mdevVendor: 'vfio-ap' });
    expect(p.mdevVendor.vendorLock('mdev-0')).toBe('vfio_ap.mdevs_lock');
    expect(p.mdevVendor.vendorLock('mdev-1')).toBe('vfio_ap.mdevs_lock');
  });
});

describe('the gvt form of the device_list_lock inversion under exploration', () => {
  const explored = (name: string, scheme: ReturnType<typeof defineScheme>) => {
    const file = join(import.meta.dirname, '..', '..', 'src', 'scenarios', `${name}.jsonl`);
    const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
    return explore(scenarioOf(header, items, file), scheme, { maxStates: 200_000 });
  };

  it('mdev-vendor-gvt keeps upstream verdicts on mdev-unmap-vs-unmap, its cycle running through cache_lock', () => {
    const r = explored('mdev-unmap-vs-unmap', gvt);
    expect(r.findings.map((f) => f.property).sort()).toEqual(['LockOrder', 'NoDeadlock']);
    expect(r.findings.find((f) => f.property === 'LockOrder')!.message).toContain('device_list_lock -> gvt.cache_lock -> iommu.lock -> device_list_lock');
  });

  it.each(['mdev-unmap-vs-unmap', 'mdev-unmap-while-pinned'])('the proposed fix (after-iommu-lock) closes the gvt form too on %s', (name) => {
    const fixed = defineScheme({ name: 'gvt-notify-unlocked', summary: 'gvt with the proposed fix', source: 'test', mdevVendor: 'gvt', mdevNotifyLock: 'after-iommu-lock' });
    const r = explored(name, fixed);
    expect(r.exhausted).toBe(true);
    expect(r.findings).toEqual([]);
  });
});
