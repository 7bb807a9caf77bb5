/**
 * Mediated-device pinning: vfio_pin_pages (vfio_main.c) -> vfio_device_container_pin_pages
 * (container.c) -> vfio_iommu_type1_pin_pages, checks in the kernel's order
 * (docs/kernel-notes.md items 1 and 2c), and the dma_unmap callback.
 */
import { describe, expect, it } from 'vitest';
import { err, hex, mapDma, MDEV, ok, onlyContainer, PID, prefix, probe, unmapDma, VA, type Rec } from './helpers.js';

interface Case {
  readonly name: string;
  readonly records: readonly Rec[];
  readonly errno: string;
  readonly by: string;
}

const pin = (iova: bigint, npage: number, extra: Rec, prot?: string[]): Rec => ({
  op: 'mdev.pin_pages',
  device: MDEV,
  iova: hex(iova),
  npage,
  ...(prot === undefined ? {} : { prot }),
  ...extra,
});

// v2 mdev-only container, device open (fd 5), [0, 0x200000) mapped read-write from VA.
const v2 = [...prefix({ mdev: true, openDevice: true }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];
const v1 = [...prefix({ mdev: true, openDevice: true, iommu: 'VFIO_TYPE1_IOMMU' }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok())];

const cases: Case[] = [
  {
    name: 'rejects vfio_pin_pages of 0 pages with EINVAL',
    records: [...v2, pin(0n, 0, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_main.c:vfio_pin_pages',
  },
  {
    name: 'rejects vfio_pin_pages on a device that is not open with EINVAL',
    records: [...prefix({ mdev: true }), mapDma(VA, 0n, 0x1000n, ['READ'], ok()), pin(0n, 1, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_main.c:vfio_pin_pages',
  },
  {
    name: 'rejects vfio_pin_pages of more than VFIO_PIN_PAGES_MAX_ENTRIES (512) pages with E2BIG',
    records: [...v2, pin(0n, 513, err('E2BIG'))],
    errno: 'E2BIG',
    by: 'vfio_device_container_pin_pages',
  },
  {
    name: 'rejects vfio_pin_pages on a v1 (VFIO_TYPE1_IOMMU) container with EACCES',
    records: [...v1, pin(0n, 1, err('EACCES'))],
    errno: 'EACCES',
    by: 'vfio_iommu_type1_pin_pages: !iommu->v2',
  },
  {
    name: 'rejects vfio_pin_pages of an iova no vfio_dma covers with EINVAL',
    records: [...v2, pin(0x400000n, 1, err('EINVAL'))],
    errno: 'EINVAL',
    by: 'vfio_iommu_type1_pin_pages: no vfio_dma',
  },
  {
    name: 'rejects a write pin of a read-only mapping with EPERM',
    records: [
      ...prefix({ mdev: true, openDevice: true }),
      mapDma(VA, 0n, 0x1000n, ['READ'], ok()),
      pin(0n, 1, err('EPERM'), ['READ', 'WRITE']),
    ],
    errno: 'EPERM',
    by: 'vfio_iommu_type1_pin_pages: (dma->prot & prot) != prot',
  },
];

describe('vfio_pin_pages checks in the kernel order', () => {
  it.each(cases)('$name', ({ records, errno, by }) => {
    const r = probe(records);
    expect(r.last.errno).toBe(errno);
    expect(r.last.decidedBy).toContain(by);
  });

  it('pins the pages and charges locked_vm when every check passes', () => {
    const r = probe([...v2, pin(0n, 2, ok(2))]);
    expect(r.last.ret).toBe(2n);
    const dma = onlyContainer(r.world).type1?.dmas.valuesArray()[0];
    expect(dma?.pfnList.size).toBe(2);
    expect(dma?.lockedVm).toBe(2);
  });

  it('fails a partial pin as a whole and leaves nothing pinned', () => {
    const r = probe([...v2, pin(0x1ff000n, 2, err('EINVAL'))]);
    expect(onlyContainer(r.world).type1?.dmas.valuesArray()[0]?.pfnList.size).toBe(0);
  });
});

describe('vfio_pin_page_external after the mapping process exited', () => {
  it('fails with ENODEV once the owner of the mapping has exited (mmget_not_zero fails)', () => {
    // The child inherits the fds, so container, group and device stay alive; the parent's mm,
    // the one the vfio_dma recorded, is gone.
    const r = probe([...v2, { op: 'fork', pid: PID, child: 43 }, { op: 'exit', pid: PID }, pin(0n, 1, err('ENODEV'))]);
    expect(r.last.errno).toBe('ENODEV');
    expect(r.last.decidedBy).toContain('vfio_pin_page_external');
  });
});

describe('UNMAP_DMA of a range the vendor driver has pinned', () => {
  it('calls the dma_unmap callback, the vendor unpins (upstream), and UNMAP_DMA succeeds', () => {
    const r = probe([...v2, pin(0x1000n, 2, ok(2)), unmapDma(0n, 0x200000n, [], { expect: { ret: 0, out: { size: '0x200000' } } })]);
    expect(r.last.ret).toBe(0n);
    expect(r.last.decidedBy).toContain('vfio_dma_do_unmap');
    const last = r.steps[r.steps.length - 1];
    expect(last?.derived.some((d) => d.op === 'mdev.dma_unmap')).toBe(true);
    expect(onlyContainer(r.world).type1?.dmas.size).toBe(0);
    expect(r.world.devices.get(MDEV)?.vendorPins.size).toBe(0);
    // The one violation is the lock order vfio_notify_dma_unmap itself creates: it takes
    // device_list_lock under iommu->lock, and the vendor's vfio_unpin_pages takes iommu->lock
    // under device_list_lock (drivers/vfio/vfio_iommu_type1.c).
    expect(r.report.violations.map((v) => v.property)).toEqual(['LockOrder']);
    expect(r.report.violations[0]!.message).toContain('device_list_lock -> iommu.lock -> device_list_lock');
  });
});
