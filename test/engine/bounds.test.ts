/**
 * Arithmetic past 2^64 and past TASK_SIZE: every sum of two u64s from the log either meets the
 * kernel's own check (mm/mmap.c do_mmap, __get_unmapped_area; mm/vma.c do_vmi_munmap; type1's
 * overflow checks) or wraps as the kernel's unsigned arithmetic does (vfio_iommu_type1_dma_rw,
 * _unpin_pages before v6.18), and no value above 2^64 - 1 reaches the world.
 */
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { recordLines, replayItems } from '../../src/run/replay.js';
import { TASK_SIZE } from '../../src/kernel/mm/mmap.js';
import type { World } from '../../src/core/world.js';
import { CFD, DEV, DFD, err, GFD, hex, inputError, ioctl, mapDma, MDEV, ok, PID, prefix, probe, procMm, run, VA, type Rec } from './helpers.js';

const TOP = 0xfffffffffffff000n;
const mmap = (length: bigint | string, extra: Rec = {}): Rec => ({ op: 'mmap', pid: PID, length: typeof length === 'string' ? length : hex(length), ...extra });
const munmap = (addr: bigint, length: bigint, extra: Rec = {}): Rec => ({ op: 'munmap', pid: PID, addr: hex(addr), length: hex(length), ...extra });
const spawn: Rec = { op: 'process.spawn', pid: PID };

/** Replays the recording of `records` (every outcome as expect, every derived record): its divergences. */
function replayRecording(records: readonly Rec[]): readonly unknown[] {
  const r = run(records);
  const text = [JSON.stringify({ format: 'iommu-model/1', scheme: 'upstream' }), ...r.steps.flatMap((s) => recordLines(s))].join('\n');
  const { header, items } = parseLog(text);
  return replayItems(header, items, '<recording>', () => {}).report.divergences;
}

/** Every vma of every mm lies below TASK_SIZE. */
function vmasInTaskSize(w: World): boolean {
  return [...w.mms.values()].every((mm) => mm.vmas.every((v) => v.start < v.end && v.end <= TASK_SIZE));
}

describe('mmap: do_mmap and __get_unmapped_area (mm/mmap.c)', () => {
  it('refuses two mmaps of 0xfffffffffffff000 bytes with ENOMEM (len > TASK_SIZE), and the recording replays', () => {
    const recs = [spawn, mmap(TOP, err('ENOMEM')), mmap(TOP, err('ENOMEM'))];
    const r = probe(recs);
    expect(r.last.decidedBy).toBe('mm/mmap.c:__get_unmapped_area: len > TASK_SIZE');
    expect(procMm(r.world).vmas).toEqual([]);
    expect(replayRecording(recs)).toEqual([]);
  });

  it('refuses a length that PAGE_ALIGN wraps to 0 with ENOMEM, and length 0 with EINVAL', () => {
    expect(probe([spawn, mmap(TOP + 1n, err('ENOMEM'))]).last.decidedBy).toContain('PAGE_ALIGN(len) wraps to 0');
    expect(probe([spawn, mmap(0n, err('EINVAL'))]).last.decidedBy).toContain('!len');
  });

  it('checks a fixed address against TASK_SIZE (ENOMEM) before its alignment (EINVAL)', () => {
    const fixed = (addr: bigint, len: bigint, expect: Rec): Rec => mmap(len, { addr: hex(addr), expect });
    const r = probe([spawn, fixed(TASK_SIZE - 0x2000n, 0x2000n, { ret: hex(TASK_SIZE - 0x2000n) }), fixed(TASK_SIZE - 0x1000n, 0x2000n, { errno: 'ENOMEM' })]);
    expect(procMm(r.world).vmas.map((v) => hex(v.end))).toEqual([hex(TASK_SIZE)]);
    expect(probe([spawn, fixed(TASK_SIZE - 0x800n, 0x1000n, { errno: 'ENOMEM' })]).last.decidedBy).toContain('addr > TASK_SIZE - len');
    expect(probe([spawn, fixed(VA + 0x800n, 0x1000n, { errno: 'EINVAL' })]).last.decidedBy).toContain('offset_in_page(addr)');
  });

  it('places a mapping that no longer fits above the bump pointer in the lowest free range, and ENOMEM when none is left', () => {
    const big = 0x20000000000n; // 2 TiB: more than is left between 0x7f0000000000 and TASK_SIZE
    const r = probe([spawn, mmap(big, ok(0x1000)), mmap(TASK_SIZE - big, err('ENOMEM'))]);
    expect(r.last.decidedBy).toContain('vm_unmapped_area');
    expect(procMm(r.world).vmas.map((v) => [hex(v.start), hex(v.end)])).toEqual([[hex(0x1000n), hex(0x1000n + big)]]);
  });

  // lengths and addresses around TASK_SIZE as often as anywhere in the u64 range
  const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 1n << 48n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
  fcTest.prop([fc.array(fc.record({ len: u64, at: fc.option(u64, { nil: undefined }) }), { minLength: 1, maxLength: 6 })], { numRuns: 60 })(
    'never creates a vma past TASK_SIZE, and its recording replays with no divergence',
    (maps) => {
      const recs = [spawn, ...maps.map((m) => mmap(m.len, m.at === undefined ? {} : { addr: hex(m.at & ~0xfffn) }))];
      expect(vmasInTaskSize(run(recs).world)).toBe(true);
      expect(replayRecording(recs)).toEqual([]);
    },
  );
});

describe('munmap: do_vmi_munmap (mm/vma.c)', () => {
  const at = 'start > TASK_SIZE || len > TASK_SIZE - start';

  it('refuses a range past TASK_SIZE with EINVAL, the length compared before PAGE_ALIGN', () => {
    expect(probe([spawn, munmap(TOP, 0x2000n, err('EINVAL'))]).last.decidedBy).toContain(at);
    expect(probe([spawn, munmap(TASK_SIZE, 1n, err('EINVAL'))]).last.decidedBy).toContain(at);
    expect(probe([spawn, munmap(TASK_SIZE - 0x1000n, 0x1001n, err('EINVAL'))]).last.decidedBy).toContain(at);
  });

  it('unmaps up to TASK_SIZE exactly', () => {
    const r = probe([spawn, mmap(0x1000n, { addr: hex(TASK_SIZE - 0x1000n), ...ok(hex(TASK_SIZE - 0x1000n)) }), munmap(TASK_SIZE - 0x1000n, 0x1000n, ok())]);
    expect(procMm(r.world).vmas).toEqual([]);
  });
});

describe('mm.reclaim: a range of user memory', () => {
  it('is bad input when it runs past TASK_SIZE, naming the field', () => {
    const reclaim = (addr: bigint, length: bigint): Rec => ({ op: 'mm.reclaim', pid: PID, addr: hex(addr), length: hex(length) });
    expect(inputError(() => run([spawn, reclaim(VA, TOP)]))).toMatchObject({ line: 3, field: 'length' });
    expect(inputError(() => run([spawn, reclaim(TOP, 0x1000n)]))).toMatchObject({ line: 3, field: 'addr' });
  });
});

describe('type1 and device DMA ranges that reach 2^64', () => {
  // mdev-only v2 container (no IOMMU domain), device open: dmas at the top page of the iova
  // space and at iova 0.
  const mdevTop = [...prefix({ mdev: true, openDevice: true }), mapDma(VA, TOP, 0x1000n, ['READ', 'WRITE'], ok()), mapDma(VA + 0x1000n, 0n, 0x1000n, ['READ', 'WRITE'], ok())];
  const rw = (extra: Rec): Rec => ({ op: 'mdev.dma_rw', device: MDEV, iova: hex(TOP), length: '0x2000', write: true, ...extra });
  const pin = (extra: Rec): Rec => ({ op: 'mdev.pin_pages', device: MDEV, iova: hex(TOP), npage: 2, ...extra });
  const unpin: Rec = { op: 'mdev.unpin_pages', device: MDEV, iova: hex(TOP), npage: 2, ...ok() };

  it('vfio_dma_rw goes on at iova 0 past 2^64, as user_iova += done does in dma_addr_t', () => {
    const r = probe([...mdevTop, rw(ok())]);
    expect(r.last.decidedBy).toBe('vfio_iommu_type1.c:vfio_iommu_type1_dma_rw');
  });

  it('before v6.18, vfio_pin_pages and vfio_unpin_pages wrap past 2^64 to iova 0', () => {
    const r = probe([...mdevTop, pin(ok(2)), unpin], 'upstream', '6.17');
    const t = [...r.world.containers.values()][0]!.type1!;
    expect(t.dmas.valuesArray().map((d) => d.pfnList.size)).toEqual([0, 0]);
    expect(r.report.violations).toEqual([]);
  });

  it('since v6.18, vfio_pin_pages is EOVERFLOW and vfio_unpin_pages WARNs and returns', () => {
    const r = probe([...mdevTop, pin(err('EOVERFLOW')), unpin]);
    expect(r.report.violations.map((v) => [v.property, v.message])).toEqual([['KernelBug', expect.stringContaining('vfio_iommu_type1_unpin_pages: WARN_ON(check_add_overflow')]]);
  });

  it('since v6.18, checks the RFC MSI window for !size and an iova wrap like a mapping (EINVAL, EOVERFLOW)', () => {
    const msi = (iova: bigint, size: bigint, expect: Rec): Rec => mapDma(0n, iova, size, ['MSI_RESERVED_IOVA'], expect);
    const base = prefix();
    expect(probe([...base, msi(TOP, 0x2000n, err('EOVERFLOW'))], 'msi-reserved-iova-rfc').last.decidedBy).toContain('check_add_overflow');
    expect(probe([...base, msi(0x8000000n, 0n, err('EINVAL'))], 'msi-reserved-iova-rfc').last.decidedBy).toContain('!size');
    expect(probe([...base, msi(TOP, 0x2000n, err('EINVAL'))], 'msi-reserved-iova-rfc', '6.17').last.decidedBy).toContain('iova + size - 1 < iova');
  });

  it('a device DMA that runs past 2^64 - 1 is bad input naming its length', () => {
    const recs = [...prefix({ openDevice: true }), { op: 'device.dma', device: DEV, iova: hex(TOP), length: '0x1001' }];
    expect(inputError(() => run(recs))).toMatchObject({ line: recs.length + 1, field: 'length' });
  });
});

describe('host.device: a device as PCI enumeration finds it', () => {
  const device = (extra: Rec): Rec[] => [{ op: 'host.device', device: DEV, group: 26, ...extra }];
  const bars = (...b: Array<[number, string, string]>): Rec => ({ bars: b.map(([index, phys, size]) => ({ index, phys, size })) });

  it.each([
    ['a BAR past 2^64 (not aligned to its size)', bars([0, hex(TOP), '0x100000']), 'bars[0].phys'],
    ['a BAR whose size is not a power of two (drivers/pci/probe.c pci_size)', bars([0, '0xfd000000', '0x3000']), 'bars[0].size'],
    ['a BAR of size 0', bars([0, '0xfd000000', '0x0']), 'bars[0].size'],
    ['a BAR not aligned to its size', bars([0, '0xfd080000', '0x100000']), 'bars[0].phys'],
    ['a BAR index declared twice', bars([0, '0xfd000000', '0x100000'], [0, '0xfe000000', '0x1000']), 'bars[1].index'],
    ['pasid_bits above the PASID capability\'s 20 (drivers/pci/ats.c pci_max_pasids)', { pasid_bits: 1000 }, 'pasid_bits'],
  ])('refuses %s as bad input naming the field', (_what, extra, field) => {
    expect(inputError(() => run(device(extra)))).toMatchObject({ line: 2, field });
  });

  it('accepts the widest PASID width, no PASID capability (0), and a naturally aligned BAR at the top of the address space', () => {
    for (const extra of [{ pasid_bits: 20 }, { pasid_bits: 0 }, bars([0, '0xfff0000000000000', '0x10000000000000'], [2, '0xfd000000', '0x100'])]) {
      expect(probe(device({ ...extra, expect: { ret: 0 } })).world.devices.has(DEV)).toBe(true);
    }
  });
});

describe('ioctl arguments: what each ioctl takes (include/uapi/linux/vfio.h)', () => {
  const opened = prefix({ openDevice: true });
  const bad = (rec: Rec, scheme = 'upstream') => inputError(() => run([...opened, rec], scheme));
  const at = opened.length + 2;

  it.each([
    ['VFIO_GET_API_VERSION', CFD],
    ['VFIO_GET_API_VERSION', GFD], // on a group fd the kernel would say ENOTTY: the record is bad all the same
    ['VFIO_GROUP_UNSET_CONTAINER', GFD],
    ['VFIO_GROUP_GET_STATUS', GFD],
    ['VFIO_IOMMU_GET_INFO', CFD],
    ['VFIO_DEVICE_RESET', DFD],
    ['VFIO_DEVICE_BIND_TASK', DFD],
  ])('%s takes no arg: an arg is bad input, not dropped (fd %i)', (cmd, fd) => {
    const e = bad(ioctl(fd, cmd, { flags: [] }));
    expect(e).toMatchObject({ line: at, field: 'arg' });
    expect(e.detail).toContain(`${cmd} takes no arg`);
  });

  it.each([
    ['VFIO_GET_API_VERSION', CFD, undefined],
    ['VFIO_CHECK_EXTENSION', CFD, 'VFIO_TYPE1v2_IOMMU'],
    ['VFIO_GROUP_SET_CONTAINER', GFD, { fd: CFD }],
    ['VFIO_GROUP_GET_DEVICE_FD', GFD, { name: DEV }],
    ['VFIO_DEVICE_RESET', DFD, undefined],
  ])('%s has no struct: an argsz is bad input', (cmd, fd, arg) => {
    expect(bad(ioctl(fd, cmd, arg, { argsz: 16 }))).toMatchObject({ line: at, field: 'argsz' });
  });

  it.each([
    ['VFIO_IOMMU_MAP_DMA', CFD, { flags: null, vaddr: hex(VA), iova: '0x0', size: '0x1000' }],
    ['VFIO_IOMMU_UNMAP_DMA', CFD, { flags: null, iova: '0x0', size: '0x1000' }],
    ['VFIO_DEVICE_FEATURE', DFD, { flags: null, feature: 'LOW_POWER_EXIT' }],
    ['VFIO_DEVICE_UNBIND_TASK', DFD, { flags: null, pasid: 1 }],
  ])('%s: "flags": null is bad input, not an empty set', (cmd, fd, arg) => {
    expect(bad(ioctl(fd, cmd, arg))).toMatchObject({ line: at, field: 'arg.flags' });
  });

  it('VFIO_DEVICE_UNBIND_TASK takes {flags, pasid}: a missing pasid, an unknown flag or field is bad input under every scheme', () => {
    for (const scheme of ['upstream', 'svm-bind-task-rfc']) {
      expect(bad(ioctl(DFD, 'VFIO_DEVICE_UNBIND_TASK', { flags: ['FLUSHED'] }), scheme)).toMatchObject({ field: 'arg.pasid' });
      expect(bad(ioctl(DFD, 'VFIO_DEVICE_UNBIND_TASK', { flags: ['DIRTY'], pasid: 1 }), scheme)).toMatchObject({ field: 'arg.flags' });
      expect(bad(ioctl(DFD, 'VFIO_DEVICE_UNBIND_TASK', { pasid: 1, mm: 2 }), scheme)).toMatchObject({ field: 'arg.mm' });
    }
    expect(probe([...opened, ioctl(DFD, 'VFIO_DEVICE_UNBIND_TASK', { pasid: 1 }, err('ENOTTY'))]).last.errno).toBe('ENOTTY');
  });

  it('mirrors minsz where the log carries argsz: GROUP_GET_STATUS and the RFC\'s BIND/UNBIND_TASK (EINVAL)', () => {
    expect(probe([...opened, ioctl(GFD, 'VFIO_GROUP_GET_STATUS', undefined, { argsz: 4, ...err('EINVAL') })]).last.decidedBy).toContain('argsz < minsz');
    const sva = opened.map((r) => (r['op'] === 'host.device' ? { ...r, pasid_bits: 20 } : r));
    const r = probe([...sva, ioctl(DFD, 'VFIO_DEVICE_BIND_TASK', undefined, { argsz: 8, ...err('EINVAL') }), ioctl(DFD, 'VFIO_DEVICE_BIND_TASK', undefined, { argsz: 12, ...ok() })], 'svm-bind-task-rfc');
    expect(r.steps[r.steps.length - 2]!.outcome?.decidedBy).toContain('svm.argsz < minsz');
    expect(probe([...sva, ioctl(DFD, 'VFIO_DEVICE_UNBIND_TASK', { pasid: 1 }, { argsz: 8, ...err('EINVAL') })], 'svm-bind-task-rfc').last.errno).toBe('EINVAL');
  });

  it('a VFIO_DEVICE_RESET with an arg is bad input on the zap path too', () => {
    const withBar = opened.map((r) => (r['op'] === 'host.device' ? { ...r, bars: [{ index: 0, phys: '0xfd000000', size: '0x100000' }] } : r));
    const recs = [...withBar, { op: 'mmap', pid: PID, fd: DFD, offset: '0x0', length: '0x1000', addr: hex(VA + 0x1000000n), ...ok(hex(VA + 0x1000000n)) }, ioctl(DFD, 'VFIO_DEVICE_RESET', 0)];
    expect(inputError(() => run(recs))).toMatchObject({ line: recs.length + 1, field: 'arg' });
  });
});
