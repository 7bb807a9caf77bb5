/**
 * iommu-sva.c:iommu_sva_bind_device, its checks in the kernel's order: each case breaks one
 * check and every later one, so the earliest broken check must be the one that answers.
 */
import { describe, expect, it } from 'vitest';
import { run, type Rec } from './helpers.js';

const DEV = '0000:03:00.0';

function bindAfter(device: Rec, exited: boolean, scheme = 'upstream'): ReturnType<typeof run> {
  return run(
    [
      { op: 'host.device', device: DEV, group: 30, ...device },
      { op: 'process.spawn', pid: 100 },
      ...(exited ? [{ op: 'exit', pid: 100 }] : []),
      { op: 'sva.bind', device: DEV, pid: 100 },
    ],
    scheme,
  );
}

describe('sva.bind (iommu_sva_bind_device) check order', () => {
  it('a device behind no IOMMU (noiommu mode): ENODEV, the first check, before the mm is looked at', () => {
    const r = bindAfter({ pasid_bits: 0 }, true, 'noiommu');
    expect(r.last).toMatchObject({ errno: 'ENODEV' });
    expect(r.last.decidedBy).toContain('iommu_group');
  });

  it('a caller whose mm has no users: EINVAL, before the PASID checks', () => {
    const r = bindAfter({ pasid_bits: 0 }, true);
    expect(r.last).toMatchObject({ errno: 'EINVAL' });
    expect(r.last.decidedBy).toContain('mmget_not_zero');
  });

  it('a device with no PASID support (max_pasids == 0), v6.18: ENOSPC from iommu_alloc_global_pasid, no EOPNOTSUPP', () => {
    const r = bindAfter({ pasid_bits: 0 }, false);
    expect(r.last).toMatchObject({ errno: 'ENOSPC' });
    expect(r.last.decidedBy).toContain('iommu_alloc_global_pasid');
  });

  it('a PASID-capable device behind an IOMMU binds and gets the first global PASID', () => {
    expect(bindAfter({ pasid_bits: 20, pri: true }, false).last).toMatchObject({ ret: 0n, out: { pasid: 1 } });
  });
});
