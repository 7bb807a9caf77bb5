/**
 * The qemu-trace importer as a pure function (src/import/qemu-trace.ts): each mapped event kind,
 * the three line prefixes, old and new event names and error formats, the skipped counts, and
 * bad input naming its line and field.
 */
import { describe, expect, it } from 'vitest';
import { importQemuTrace, type Rec } from '../../src/import/qemu-trace.js';
import { InputError } from '../../src/vocab/errors.js';

const imp = (text: string) => importQemuTrace('t.trace', text.split('\n'));
/** The records after the prologue (the first mmap, ioctl of the container or pci.command on). */
const body = (recs: readonly Rec[]): Rec[] => recs.slice(recs.findIndex((r) => r['op'] === 'mmap' || r['op'] === 'munmap' || r['op'] === 'pci.command' || (r['op'] === 'ioctl' && String(r['cmd']).startsWith('VFIO_IOMMU_'))));
const strip = (r: Rec): Rec => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'comment' && k !== 'pid'));
const bad = (text: string): InputError => {
  try {
    imp(text);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('no InputError');
};

const ADD = 'vfio_listener_region_add_ram region_add [ram] 0x100000 - 0x1fffff [0x7f0040000000]';

describe('line prefixes', () => {
  it('reads one event the same with no prefix, the log backend\'s pid@time: and syslog\'s', () => {
    const plain = imp(ADD);
    const log = imp(`4242@1700000000.123456:${ADD}`);
    const sys = imp(`Mar  3 10:00:00 host qemu-system-x86_64[4242]: ${ADD}`);
    const iso = imp(`2024-01-13T18:17:24.000+03:00 host qemu[4242]: ${ADD}`);
    expect(body(log.records).map(strip)).toEqual(body(plain.records).map(strip));
    expect(body(sys.records).map(strip)).toEqual(body(plain.records).map(strip));
    expect(body(iso.records).map(strip)).toEqual(body(plain.records).map(strip));
    // the prefixes' pid is QEMU's; without one the process is pid 1, an assumption
    expect(log.records.find((r) => r['op'] === 'process.spawn')!['pid']).toBe(4242);
    expect(plain.records.find((r) => r['op'] === 'process.spawn')!['pid']).toBe(1);
    expect(plain.assumptions.some((a) => a.includes('pid 1'))).toBe(true);
  });
});

describe('region_add and region_del', () => {
  it('maps the backing once, then MAP_DMA of the section with the traced vaddr, iova and size', () => {
    const r = imp(`${ADD}\nvfio_listener_region_add_ram region_add [ram] 0x200000 - 0x2fffff [0x7f0040080000]`);
    expect(body(r.records).map(strip)).toEqual([
      { op: 'mmap', addr: '0x7f0040000000', length: '0x100000', expect: { ret: '0x7f0040000000' } },
      { op: 'ioctl', fd: 4, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: '0x7f0040000000', iova: '0x100000', size: '0x100000' }, expect: { ret: 0 } },
      // the second section's backing overlaps the first's: only the part not mapped yet is
      { op: 'mmap', addr: '0x7f0040100000', length: '0x80000', expect: { ret: '0x7f0040100000' } },
      { op: 'ioctl', fd: 4, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: '0x7f0040080000', iova: '0x200000', size: '0x100000' }, expect: { ret: 0 } },
    ]);
    expect(body(r.records)[1]!['comment']).toMatch(/^trace line 1: vfio_listener_region_add_ram/);
  });

  it('unmaps a deleted section, and the whole address space with VFIO_DMA_UNMAP_FLAG_ALL', () => {
    const r = imp(`${ADD}\nvfio_listener_region_del region_del 0x100000 - 0x1fffff\nvfio_listener_region_del region_del 0x0 - 0xffffffffffffffff`);
    expect(body(r.records).slice(2).map(strip)).toEqual([
      { op: 'ioctl', fd: 4, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: '0x100000', size: '0x100000' }, expect: { ret: 0 } },
      { op: 'ioctl', fd: 4, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: ['ALL'], iova: '0x0', size: '0x0' }, expect: { ret: 0 } },
    ]);
  });

  it.each([
    ['vfio_dma_map(0x55d0c0a0, 0x100000, 0x100000, 0x7f0040000000) = -17 (File exists)', 'EEXIST'],
    ['2021-05-05T09:38:16.158864Z qemu-system-x86_64: vfio_dma_map(0x557b8fd281b0, 0x100000, 0x100000, 0x7f0040000000) = -22 (Resource temporarily unavailable)', 'EINVAL'],
    ['qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: failed to setup container for group 1: memory listener initialization failed: Region pc.ram: vfio_dma_map(0x55d0c0a0, 0x100000, 0x100000, 0x7f0040000000) = -12 (Cannot allocate memory)', 'ENOMEM'],
    ['warning: vfio_container_dma_map(0x55d0c0a0, 0x100000, 0x100000, 0x7f0040000000) = -14 (Bad address)', 'EFAULT'],
  ])('an error_report after the section is its expect: %s', (line, errno) => {
    const map = body(imp(`${ADD}\n${line}`).records)[1]!;
    expect(map['expect']).toEqual({ errno });
    expect(map['comment']).toMatch(/line 2: the call returned -/);
  });

  it('takes an unmap failure as the region_del\'s errno (the number, not %m\'s text)', () => {
    const r = imp(`${ADD}\nvfio_listener_region_del region_del 0x100000 - 0x17ffff\nvfio_dma_unmap(0x55d0c0a0, 0x100000, 0x80000) = -22 (Success)`);
    expect(body(r.records)[2]!['expect']).toEqual({ errno: 'EINVAL' });
  });

  it('drops the MAP_DMA of a RAM device section QEMU found unaligned (region_add_no_dma_map)', () => {
    const r = imp(`${ADD}\nvfio_listener_region_add_no_dma_map Region "0000:01:00.0 BAR 0 mmaps[0]" 0x100000 size=0x100000 is not aligned to 0x10000 and cannot be mapped for DMA`);
    expect(body(r.records).map((x) => x['op'])).toEqual(['mmap']);
  });
});

describe('devices, BARs and PCI_COMMAND', () => {
  it('takes BDF and group from vfio_realize (old) and vfio_attach_device (new), BAR sizes from vfio_region_setup', () => {
    const r = imp([
      'vfio_realize  (0000:65:00.0) group 45',
      'vfio_attach_device  (0000:66:00.0) group 46',
      'vfio_region_setup Device 0000:66:00.0, region 2 "0000:66:00.0 BAR 2", flags: 0x7, offset: 0x20000000000, size: 0x4000',
      ADD,
    ].join('\n'));
    const devs = r.records.filter((x) => x['op'] === 'host.device').map(strip);
    expect(devs).toEqual([
      { op: 'host.device', device: '0000:65:00.0', group: 45 },
      { op: 'host.device', device: '0000:66:00.0', group: 46, bars: [{ index: 2, phys: '0x8000000000', size: '0x4000' }] },
    ]);
    expect(r.records.filter((x) => x['op'] === 'open').map((x) => x['path'])).toEqual(['/dev/vfio/45', '/dev/vfio/vfio', '/dev/vfio/46']);
  });

  it('gives a device named otherwise (vfio-user) a BDF of its own and says so', () => {
    const r = imp(`vfio_pci_write_config  (VFIO user </run/s.sock>, @0x4, 0x106, len=0x2)\n${ADD}`);
    expect(r.records.find((x) => x['op'] === 'host.device')!['device']).toBe('0000:01:00.0');
    expect(r.assumptions.some((a) => a.includes('"VFIO user </run/s.sock>" is 0000:01:00.0'))).toBe(true);
    expect(strip(body(r.records)[0]!)).toEqual({ op: 'pci.command', fd: 5, memory: true });
  });

  it('maps a BAR (vfio_region_mmap) where the first section shows its host address', () => {
    const r = imp([
      'vfio_region_mmap Region 0000:84:00.0 BAR 0 mmaps[0] [0x0 - 0xffffff]',
      'vfio_listener_region_add_ram region_add [ram] 0xf8000000 - 0xf8005fff [0x7f691e800000]',
      'vfio_listener_region_add_ram region_add [ram] 0xf8007000 - 0xf8ffffff [0x7f691e807000]',
      'vfio_region_unmap Region 0000:84:00.0 BAR 0 mmaps[0] unmap [0x0 - 0xffffff]',
    ].join('\n'));
    expect(r.records.find((x) => x['op'] === 'host.device')!['bars']).toEqual([{ index: 0, phys: '0x8000000000', size: '0x1000000' }]);
    expect(body(r.records).map(strip).filter((x) => x['op'] !== 'ioctl')).toEqual([
      { op: 'pci.command', fd: 5, memory: true },
      { op: 'mmap', fd: 5, offset: '0x0', addr: '0x7f691e800000', length: '0x1000000', expect: { ret: '0x7f691e800000' } },
      { op: 'munmap', addr: '0x7f691e800000', length: '0x1000000' },
    ]);
  });
});

describe('what is skipped', () => {
  it('counts the events it does not map by name, and lines that are no trace event', () => {
    const r = imp([
      'vfio_listener_region_add_skip SKIPPING region_add 0xfebf4000 - 0xfebf40ff',
      'vfio_listener_region_add_skip SKIPPING region_add 0xfebf4100 - 0xfebf43ff',
      'vfio_listener_region_skip SKIPPING region_add 0xfebf4000 - 0xfebf40ff',
      'vfio_user_dma_map  iova 0x100000 size 0x100000 off 0x0 flags 0x3 async_ops 0',
      'kvm_set_user_memory Slot#0 flags=0x0 gpa=0x0 size=0xa0000 ua=0x7f0040000000 ret=0',
      'Hello from the guest',
      ADD,
    ].join('\n'));
    expect([...r.skipped]).toEqual([
      ['vfio_listener_region_add_skip', 2],
      ['vfio_listener_region_skip', 1],
      ['vfio_user_dma_map', 1],
      ['kvm_set_user_memory', 1],
      ['(lines that are no trace event)', 1],
    ]);
    expect(r.imported).toBe(1);
  });
});

describe('bad input', () => {
  it('refuses a file with no vfio trace event at all, naming no line', () => {
    const e = bad('{"format":"iommu-model/1"}\n{"op":"exit","pid":1}');
    expect(e.message).toMatch(/^t\.trace: not a QEMU trace: no line holds a vfio trace event/);
    expect(e.message).toMatch(/looks like JSON/);
  });

  it.each([
    ['vfio_listener_region_add_ram region_add [ram] 0x100000 - 0x1fffff [0x7f00zz]', 'vfio_listener_region_add_ram.vaddr'],
    ['vfio_listener_region_add_ram region_add [ram] 0x100000 -0x1fffff [0x7f0040000000]', 'vfio_listener_region_add_ram.iova_end'],
    ['vfio_listener_region_del region_del 0xZZ - 0x1fffff', 'vfio_listener_region_del.start'],
    ['vfio_listener_region_add_ram region_add [ram] 0x200000 - 0x1fffff [0x7f0040000000]', 'vfio_listener_region_add_ram.iova_end'],
    ['vfio_region_mmap Region 0000:84:00.0 BAR 0 mmaps[0] [0x0 - ]', 'vfio_region_mmap.end'],
  ])('a malformed mapped event names its line and field: %s', (line, field) => {
    const e = bad(`vfio_realize  (0000:65:00.0) group 45\n${line}`);
    expect(e.line).toBe(2);
    expect(e.field).toBe(field);
    expect(e.message.split('\n')).toHaveLength(1);
  });
});
