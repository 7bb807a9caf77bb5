/**
 * VFIO_IOMMU_GET_INFO (vfio_iommu_type1.c:vfio_iommu_type1_get_info): the kernel fills a zeroed
 * struct vfio_iommu_type1_info and copies back min(argsz, sizeof(info)) = min(argsz, 24) bytes.
 * With the default host the capability chain is 96 bytes (MIGRATION 32, DMA_AVAIL 16, IOVA_RANGE
 * with two ranges 48), so a buffer needs 24 + 96 = 120 bytes for the caps.
 */
import { describe, expect, it } from 'vitest';
import { CFD, err, ioctl, prefix, probe } from './helpers.js';

const NEEDED = 24 + 96;

function getInfo(argsz: number, expect: Record<string, unknown>) {
  return probe([...prefix(), ioctl(CFD, 'VFIO_IOMMU_GET_INFO', undefined, { argsz, ...expect })]).last;
}

describe('VFIO_IOMMU_GET_INFO writes back what the kernel copies', () => {
  it('rejects an argsz below offsetofend(iova_pgsizes) = 16 with EINVAL', () => {
    expect(getInfo(15, err('EINVAL')).decidedBy).toContain('argsz < offsetofend(iova_pgsizes)');
  });

  it('argsz = sizeof(info) = 24, too small for the caps: argsz becomes the size needed, CAPS is set, cap_offset reads 0', () => {
    const o = getInfo(24, { expect: { ret: 0, out: { argsz: NEEDED, flags: ['PGSIZES', 'CAPS'], cap_offset: 0 } } });
    expect(o.out).not.toHaveProperty('dma_avail');
    expect(o.out).not.toHaveProperty('migration');
  });

  it('argsz = 16 ends before cap_offset: the kernel copies 16 bytes and writes no cap_offset', () => {
    const o = getInfo(16, { expect: { ret: 0, out: { argsz: NEEDED, iova_pgsizes: '0x40201000' } } });
    expect(o.out).not.toHaveProperty('cap_offset');
  });

  it('argsz one byte short of the caps still gets no caps', () => {
    expect(getInfo(NEEDED - 1, { expect: { ret: 0, out: { argsz: NEEDED, cap_offset: 0 } } }).out).not.toHaveProperty('dma_avail');
  });

  it('argsz exactly sizeof(info) + caps: the caps at cap_offset 24, argsz left as passed', () => {
    getInfo(NEEDED, { expect: { ret: 0, out: { argsz: NEEDED, cap_offset: 24, dma_avail: 65535 } } });
  });

  it('an argsz larger than needed is left as the user passed it', () => {
    const o = getInfo(4096, { expect: { ret: 0, out: { argsz: 4096, cap_offset: 24, dma_avail: 65535 } } });
    expect(o.out?.['iova_ranges']).toEqual([['0x0', '0xfedfffff'], ['0xfef00000', '0xffffffffffff']]);
  });
});
