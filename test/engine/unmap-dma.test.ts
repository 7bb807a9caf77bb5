/**
 * VFIO_IOMMU_UNMAP_DMA: vfio_iommu_type1_unmap_dma -> vfio_dma_do_unmap (T1-2025), checks in the
 * kernel's order (vfio_iommu_type1.c vfio_dma_do_unmap, docs/kernel-notes.md item 2b), then the v2 and
 * v1 result semantics.
 */
import { describe, expect, it } from 'vitest';
import { err, hex, mapDma, ok, onlyContainer, prefix, probe, unmapDma, VA, type Rec } from './helpers.js';

interface Case {
  readonly name: string;
  readonly records: readonly Rec[];
  readonly errno: string;
  readonly by: string;
}

// v2 container with [0, 0x200000) mapped.
const v2 = [...prefix(), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];
// mdev-only v2 container with the device open and [0, 0x200000) mapped.
const mdev = [...prefix({ mdev: true, openDevice: true }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];

const checks: Case[] = [
  {
    name: 'ioctl: rejects UNMAP_DMA whose argsz is below offsetofend(size) with EINVAL',
    records: [...v2, unmapDma(0n, 0x200000n, [], { argsz: 16, ...err('EINVAL') })],
    errno: 'EINVAL',
    by: 'vfio_iommu_type1_unmap_dma',
  },
  {
    name: 'ioctl: rejects GET_DIRTY_BITMAP combined with ALL with EINVAL',
    records: [...v2, unmapDma(0n, 0n, ['GET_DIRTY_BITMAP', 'ALL'], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_iommu_type1_unmap_dma: GET_DIRTY_BITMAP with ALL',
  },
  {
    name: 'do_unmap 1: rejects a VADDR invalidation while an mdev group is attached with EBUSY',
    records: [...mdev, unmapDma(0n, 0x200000n, ['VADDR'], err('EBUSY'))],
    errno: 'EBUSY',
    by: 'vfio_dma_do_unmap',
  },
  {
    name: 'do_unmap 2: rejects an iova not aligned to the smallest IOMMU page with EINVAL',
    records: [...v2, unmapDma(0x800n, 0x1000n, [], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: iova & (pgsize-1)',
  },
  {
    name: 'do_unmap 3: rejects ALL with a non-zero size with EINVAL',
    records: [...v2, unmapDma(0n, 0x1000n, ['ALL'], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: ALL with iova or size',
  },
  {
    name: 'do_unmap 3: rejects ALL with a non-zero iova with EINVAL',
    records: [...v2, unmapDma(0x1000n, 0n, ['ALL'], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: ALL with iova or size',
  },
  {
    name: 'do_unmap 3: rejects a size of 0 without ALL with EINVAL',
    records: [...v2, unmapDma(0n, 0n, [], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: !size',
  },
  {
    name: 'do_unmap 3: rejects a size that is not page aligned with EINVAL',
    records: [...v2, unmapDma(0n, 0x1800n, [], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: !size',
  },
  {
    name: 'do_unmap 3 (v6.18): rejects an iova range that wraps past 2^64 with EOVERFLOW',
    records: [...v2, unmapDma(0xfffffffffffff000n, 0x2000n, [], err('EOVERFLOW'))],
    errno: 'EOVERFLOW',
    by: 'vfio_dma_do_unmap: check_add_overflow'
  },
  {
    name: 'do_unmap 5 (v2): rejects a request that starts inside a mapping with EINVAL',
    records: [...v2, unmapDma(0x1000n, 0x1ff000n, [], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: v2: request starts inside a mapping',
  },
  {
    name: 'do_unmap 5 (v2): rejects a request that ends inside a mapping with EINVAL',
    records: [...v2, unmapDma(0n, 0x1000n, [], err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_dma_do_unmap: v2: request ends inside a mapping',
  },
];

describe('VFIO_IOMMU_UNMAP_DMA checks in the order of vfio_dma_do_unmap', () => {
  it.each(checks)('$name', ({ records, errno, by }) => {
    const r = probe(records);
    expect(r.last.errno).toBe(errno);
    expect(r.last.decidedBy).toContain(by);
  });

  it('reports the VADDR/mdev EBUSY before a misaligned iova', () => {
    const r = probe([...mdev, unmapDma(0x800n, 0x1000n, ['VADDR'], err('EBUSY'))]);
    expect(r.last.decidedBy).toContain('vfio_dma_do_unmap');
  });

  it('leaves the mapping in place after a bisecting v2 request', () => {
    const r = probe([...v2, unmapDma(0n, 0x1000n, [], err('EINVAL'))]);
    expect(onlyContainer(r.world).type1?.dmas.valuesArray().map((d) => [d.iova, d.size])).toEqual([[0n, 0x200000n]]);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA results (v2)', () => {
  it('succeeds with out.size 0x0 when no mapping intersects the range', () => {
    const r = probe([...v2, unmapDma(0x400000n, 0x1000n, [], { expect: { ret: 0, out: { size: '0x0' } } })]);
    expect(r.last.ret).toBe(0n);
    expect(r.last.out?.['size']).toBe('0x0');
    expect(r.last.decidedBy).toContain('vfio_dma_do_unmap');
  });

  it('unmaps every whole mapping in the range and reports the sum of their sizes', () => {
    const r = probe([
      ...prefix(),
      mapDma(VA, 0n, 0x1000n, ['READ'], ok()),
      mapDma(VA + 0x1000n, 0x1000n, 0x2000n, ['READ'], ok()),
      mapDma(VA + 0x3000n, 0x10000n, 0x1000n, ['READ'], ok()),
      mapDma(VA + 0x4000n, 0x40000n, 0x1000n, ['READ'], ok()),
      unmapDma(0n, 0x20000n, [], { expect: { ret: 0, out: { size: '0x4000' } } }),
    ]);
    expect(r.last.out?.['size']).toBe('0x4000');
    expect(onlyContainer(r.world).type1?.dmas.valuesArray().map((d) => d.iova)).toEqual([0x40000n]);
  });

  it('unmaps everything with ALL and iova = size = 0', () => {
    const r = probe([
      ...v2,
      mapDma(VA + 0x200000n, 0x400000n, 0x1000n, ['READ'], ok()),
      unmapDma(0n, 0n, ['ALL'], { expect: { ret: 0, out: { size: hex(0x201000n) } } }),
    ]);
    expect(onlyContainer(r.world).type1?.dmas.size).toBe(0);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA results (v1, VFIO_TYPE1_IOMMU)', () => {
  const v1 = [...prefix({ iommu: 'VFIO_TYPE1_IOMMU' }), mapDma(VA, 0x1000n, 0x2000n, ['READ', 'WRITE'], ok())];

  it('removes the whole mapping when the request covers its first iova, reporting the full size', () => {
    const r = probe([...v1, unmapDma(0x1000n, 0x1000n, [], { expect: { ret: 0, out: { size: '0x2000' } } })]);
    expect(r.last.out?.['size']).toBe('0x2000');
    expect(onlyContainer(r.world).type1?.dmas.size).toBe(0);
  });

  it('succeeds with size 0 and unmaps nothing when the request starts inside a mapping', () => {
    const r = probe([...v1, unmapDma(0x2000n, 0x1000n, [], { expect: { ret: 0, out: { size: '0x0' } } })]);
    expect(r.last.out?.['size']).toBe('0x0');
    expect(onlyContainer(r.world).type1?.dmas.valuesArray().map((d) => [d.iova, d.size])).toEqual([[0x1000n, 0x2000n]]);
  });
});

describe('VFIO_IOMMU_UNMAP_DMA with VADDR', () => {
  it('invalidates the vaddr but keeps the mapping, and a second invalidation fails with EINVAL', () => {
    const r = probe([
      ...prefix(),
      mapDma(VA, 0n, 0x1000n, ['READ'], ok()),
      unmapDma(0n, 0x1000n, ['VADDR'], { expect: { ret: 0, out: { size: '0x1000' } } }),
      unmapDma(0n, 0x1000n, ['VADDR'], err('EINVAL')),
    ]);
    expect(r.last.decidedBy).toContain('vfio_dma_do_unmap: VADDR');
    const t = onlyContainer(r.world).type1;
    expect(t?.dmas.size).toBe(1);
    expect(t?.vaddrInvalidCount).toBe(1);
  });

  it('lets MAP_DMA with VADDR restore an invalidated vaddr', () => {
    const r = probe([
      ...prefix(),
      mapDma(VA, 0n, 0x1000n, ['READ'], ok()),
      unmapDma(0n, 0x1000n, ['VADDR'], { expect: { ret: 0, out: { size: '0x1000' } } }),
      mapDma(VA + 0x1000n, 0n, 0x1000n, ['VADDR'], ok()),
    ]);
    expect(r.last.decidedBy).toContain('vfio_dma_do_map: VADDR update');
    expect(onlyContainer(r.world).type1?.vaddrInvalidCount).toBe(0);
  });
});

