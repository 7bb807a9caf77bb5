/**
 * The version-dependent rules of src/vocab/releases.ts, each pinned on both sides of the release
 * that changed it: the same log replayed with the header's `kernel` just before and at that
 * release. Without `kernel` a log models v6.18.
 */
import { describe, expect, it } from 'vitest';
import { err, hex, mapDma, MDEV, ok, prefix, probe, unmapDma, VA, type Rec } from './helpers.js';
import { LATEST_RELEASE } from '../../src/vocab/releases.js';

const SVA_A = '0000:03:00.0';
const SVA_B = '0000:04:00.0';

/** Two devices behind the IOMMU (pasid widths `a`, `b`), processes 100 and 101. */
function svaHost(a: number, b: number): Rec[] {
  return [
    { op: 'host.device', device: SVA_A, group: 30, pasid_bits: a, pri: true },
    { op: 'host.device', device: SVA_B, group: 31, pasid_bits: b, pri: true },
    { op: 'process.spawn', pid: 100 },
    { op: 'process.spawn', pid: 101 },
  ];
}

const bind = (device: string, pid: number, expect: Rec): Rec => ({ op: 'sva.bind', device, pid, expect });

describe("'sva-pasid-ida' (v6.4, iommu/sva: Stop using ioasid_set for SVA)", () => {
  // A 1-bit device has max_pasids 2: PASID 1 is the only one it can be given.
  const exhausted = [...svaHost(1, 1), bind(SVA_A, 100, { ret: 0, out: { pasid: 1 } })];

  it('v6.3: the second mm finds no free PASID in [1, max_pasids - 1]: ENOMEM from ioasid_alloc', () => {
    const r = probe([...exhausted, bind(SVA_A, 101, { errno: 'ENOMEM' })], 'upstream', '6.3');
    expect(r.last.decidedBy).toContain('ioasid_alloc');
  });

  it('v6.4: the same bind is ENOSPC from ida_alloc_range', () => {
    const r = probe([...exhausted, bind(SVA_A, 101, { errno: 'ENOSPC' })], 'upstream', '6.4');
    expect(r.last.decidedBy).toContain('ida_alloc_range');
  });

  // The mm gets PASID 1 from a 20-bit device; a 1-bit device (max_pasids 2) can use PASID 1.
  const shared = [...svaHost(20, 1), bind(SVA_A, 100, { ret: 0, out: { pasid: 1 } })];

  it('v6.3: an mm whose PASID is max_pasids - 1 is refused by the next device: EOVERFLOW (mm->pasid >= max)', () => {
    const r = probe([...shared, bind(SVA_B, 100, { errno: 'EOVERFLOW' })], 'upstream', '6.3');
    expect(r.last.decidedBy).toContain('pasid >= max_pasids - 1');
  });

  it('v6.4: the same bind succeeds with the mm\'s PASID (mm->pasid > max)', () => {
    probe([...shared, bind(SVA_B, 100, { ret: 0, out: { pasid: 1 } })], 'upstream', '6.4');
  });
});

describe("'sva-core-pasid' (v6.6, iommu: Move global PASID allocation from SVA to core)", () => {
  it('v6.5: a device without PASIDs (max_pasids == 0) is EOPNOTSUPP', () => {
    const r = probe([...svaHost(0, 20), bind(SVA_A, 100, { errno: 'EOPNOTSUPP' })], 'upstream', '6.5');
    expect(r.last.decidedBy).toContain('!dev->iommu->max_pasids');
  });

  it('v6.6: the same bind of a new mm is ENOSPC from iommu_alloc_global_pasid', () => {
    const r = probe([...svaHost(0, 20), bind(SVA_A, 100, { errno: 'ENOSPC' })], 'upstream', '6.6');
    expect(r.last.decidedBy).toContain('iommu_alloc_global_pasid');
  });

  const withPasid = [...svaHost(0, 20), bind(SVA_B, 100, { ret: 0, out: { pasid: 1 } })];

  it('v6.5: an mm that already has a PASID is still EOPNOTSUPP on a device without PASIDs', () => {
    probe([...withPasid, bind(SVA_A, 100, { errno: 'EOPNOTSUPP' })], 'upstream', '6.5');
  });

  it('v6.6: the same bind is EOVERFLOW (pasid >= max_pasids == 0)', () => {
    probe([...withPasid, bind(SVA_A, 100, { errno: 'EOVERFLOW' })], 'upstream', '6.6');
  });

  it('a log without kernel is v6.18 and has the v6.6 behaviour', () => {
    expect(LATEST_RELEASE).toBe('6.18');
    probe([...svaHost(0, 20), bind(SVA_A, 100, { errno: 'ENOSPC' })]);
  });
});

describe("'type1-overflow' (v6.18, vfio/type1: sanitize for overflow using check_*_overflow())", () => {
  const base = prefix();
  const TOP = 0xfffffffffffff000n;

  it.each([
    ['an iova range that wraps', mapDma(VA, TOP, 0x2000n, ['READ'])],
    ['a vaddr range that wraps', mapDma(TOP, 0n, 0x2000n, ['READ'])],
  ])('MAP_DMA of %s: EINVAL under iommu->lock in v6.17, EOVERFLOW in v6.18', (_what, rec) => {
    expect(probe([...base, { ...rec, ...err('EINVAL') }], 'upstream', '6.17').last.decidedBy).toContain('iova + size - 1 < iova || vaddr + size - 1 < vaddr');
    expect(probe([...base, { ...rec, ...err('EOVERFLOW') }], 'upstream', '6.18').last.decidedBy).toContain('check_add_overflow');
  });

  it('MAP_DMA that wraps and has no READ/WRITE/VADDR: v6.17 fails the prot check first, v6.18 the overflow check', () => {
    const rec = mapDma(VA, TOP, 0x2000n, []);
    expect(probe([...base, { ...rec, ...err('EINVAL') }], 'upstream', '6.17').last.decidedBy).toContain('(prot && VADDR)');
    probe([...base, { ...rec, ...err('EOVERFLOW') }], 'upstream', '6.18');
  });

  it('MAP_DMA that wraps with a misaligned vaddr: v6.17 fails the alignment check first, v6.18 the overflow check', () => {
    const rec = mapDma(TOP + 0x800n, 0n, 0x2000n, ['READ']);
    expect(probe([...base, { ...rec, ...err('EINVAL') }], 'upstream', '6.17').last.decidedBy).toContain('(size|iova|vaddr) & (pgsize-1)');
    probe([...base, { ...rec, ...err('EOVERFLOW') }], 'upstream', '6.18');
  });

  it('MAP_DMA of size 0 with no prot: EINVAL on both sides, from the prot check in v6.17 and from !size in v6.18', () => {
    const rec = mapDma(VA, 0n, 0n, []);
    expect(probe([...base, { ...rec, ...err('EINVAL') }], 'upstream', '6.17').last.decidedBy).toContain('(prot && VADDR)');
    expect(probe([...base, { ...rec, ...err('EINVAL') }], 'upstream', '6.18').last.decidedBy).toContain('!size');
  });

  it('UNMAP_DMA of a range that wraps: EINVAL in v6.17, EOVERFLOW in v6.18', () => {
    const mapped = [...base, mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];
    expect(probe([...mapped, unmapDma(TOP, 0x2000n, [], err('EINVAL'))], 'upstream', '6.17').last.decidedBy).toContain('iova + size - 1 < iova');
    expect(probe([...mapped, unmapDma(TOP, 0x2000n, [], err('EOVERFLOW'))], 'upstream', '6.18').last.decidedBy).toContain('check_add_overflow');
  });

  it('mdev pin_pages of a range that wraps: v6.17 finds no vfio_dma at the first page (EINVAL), v6.18 EOVERFLOW', () => {
    const mdev = [...prefix({ mdev: true, openDevice: true }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];
    const pin = (expect: Rec): Rec => ({ op: 'mdev.pin_pages', device: MDEV, iova: hex(TOP), npage: 2, ...expect });
    expect(probe([...mdev, pin(err('EINVAL'))], 'upstream', '6.17').last.decidedBy).toContain('no vfio_dma');
    expect(probe([...mdev, pin(err('EOVERFLOW'))], 'upstream', '6.18').last.decidedBy).toContain('check_add_overflow');
  });
});

describe("'type1-addressable-limit' (v6.18, vfio/type1: handle DMA map/unmap up to the addressable limit)", () => {
  // An IOMMU whose aperture reaches 2^64 - 1, a page mapped at the very top.
  const TOP = 0xfffffffffffff000n;
  const top = [
    ...prefix({ host: [{ op: 'host.iommu', aperture: ['0x0', '0xffffffffffffffff'], resv: [] }] }),
    mapDma(VA, TOP, 0x1000n, ['READ', 'WRITE'], ok()),
  ];

  it('v6.17: UNMAP_DMA of the top page finds nothing (iova + size wraps to 0): ret 0, size 0', () => {
    const r = probe([...top, unmapDma(TOP, 0x1000n, [], { expect: { ret: 0, out: { size: '0x0' } } })], 'upstream', '6.17');
    expect(r.last.decidedBy).toContain('wraps to 0');
  });

  it('v6.18: the same UNMAP_DMA unmaps the page', () => {
    probe([...top, unmapDma(TOP, 0x1000n, [], { expect: { ret: 0, out: { size: '0x1000' } } })], 'upstream', '6.18');
  });

  it('UNMAP_DMA with ALL unmaps the top page in both', () => {
    for (const k of ['6.17', '6.18']) probe([...top, unmapDma(0n, 0n, ['ALL'], { expect: { ret: 0, out: { size: '0x1000' } } })], 'upstream', k);
  });
});
