/**
 * vfio-pci's device state across open and close (drivers/vfio/pci/vfio_pci_core.c): the last
 * close's vfio_pci_core_disable clears bus mastering and restores the config saved at open, and
 * exit's deferred releases run last fd first.
 */
import { describe, expect, it } from 'vitest';
import { CFD, DEV, DFD, GFD, PID, VA, hex, ioctl, mapDma, ok, prefix, probe, procMm, type Rec } from './helpers.js';

const dma = (extra: Rec = {}): Rec => ({ op: 'device.dma', device: DEV, iova: '0x1000', length: '0x40', write: true, ...extra });

describe('the last close of a vfio-pci device (vfio_pci_core_disable)', () => {
  const opened = [...prefix({ openDevice: true }), mapDma(VA, 0n, 0x200000n, ['READ', 'WRITE'], ok()), dma({ expect: { dma: 'ok' } })];

  it('clears bus mastering: the closed device issues no DMA, so nothing reaches the IOMMU', () => {
    const r = probe([...opened, { op: 'close', pid: PID, fd: DFD, ...ok() }, dma({ expect: { dma: 'fault' } })]);
    const last = r.steps[r.steps.length - 1]!;
    expect(last.derived.map((d) => d.op)).toEqual(['dma.not_issued']);
    expect(last.outcome?.decidedBy).toMatch(/PCI_COMMAND_MASTER clear/);
    expect(r.world.devices.get(DEV)?.busMaster).toBe(false);
  });

  it('restores memory decode as saved at open, even after the user cleared it', () => {
    const r = probe([...opened, { op: 'pci.command', pid: PID, fd: DFD, memory: false, ...ok() }, { op: 'close', pid: PID, fd: DFD, ...ok() }]);
    expect(r.world.devices.get(DEV)?.memoryEnabled).toBe(true);
  });

  it('leaves the device a bus master again once it is reopened', () => {
    const r = probe([
      ...opened,
      { op: 'close', pid: PID, fd: DFD, ...ok() },
      ioctl(GFD, 'VFIO_GROUP_GET_DEVICE_FD', { name: DEV }, ok(DFD)),
      dma({ expect: { dma: 'ok' } }),
    ]);
    expect(r.world.devices.get(DEV)?.busMaster).toBe(true);
  });
});

describe('exit_files', () => {
  it('runs the deferred releases last fd first, as task_work_run runs task_works from the head', () => {
    const B = '0000:02:00.0';
    const r = probe([
      { op: 'host.device', device: B, group: 27 },
      ...prefix({ openDevice: true }),
      { op: 'open', pid: PID, path: '/dev/vfio/27', ...ok(6) },
      ioctl(6, 'VFIO_GROUP_SET_CONTAINER', { fd: CFD }, ok()),
      ioctl(6, 'VFIO_GROUP_GET_DEVICE_FD', { name: B }, ok(7)),
      { op: 'exit', pid: PID, task: 'vm', ...ok() },
    ]);
    const released = r.steps.flatMap((s) => s.derived.filter((d) => d.op === 'file.released').map((d) => String(d.file)));
    const devB = released.findIndex((f) => f.includes(B));
    const devA = released.findIndex((f) => f.includes(DEV));
    expect(devB).toBeGreaterThanOrEqual(0);
    expect(devA).toBeGreaterThan(devB);
  });
});

/** The prefix with its device declared with a 1 MiB BAR0 (and `extra` fields), opened, BAR0 mmapped and touched. */
function withBar(extra: Rec = {}): Rec[] {
  const recs = prefix({ openDevice: true }).map((r) => (r['op'] === 'host.device' ? { ...r, bars: [{ index: 0, phys: '0xfd000000', size: '0x100000' }], ...extra } : r));
  return [
    ...recs,
    { op: 'mmap', pid: PID, fd: DFD, offset: '0x0', length: '0x100000', addr: hex(BAR_VA), ...ok(hex(BAR_VA)) },
    { op: 'touch', pid: PID, addr: hex(BAR_VA), write: true, ...ok() },
  ];
}
const BAR_VA = 0x7f1000000000n;
const barState = (r: ReturnType<typeof probe>): string | undefined => procMm(r.world).vmas.find((v) => v.kind === 'bar')?.state;

describe('VFIO_DEVICE_RESET (vfio_pci_ioctl_reset)', () => {
  it('is EINVAL on a device without a reset method, before the zap: the BAR keeps its PTEs', () => {
    const r = probe([...withBar({ reset: false }), ioctl(DFD, 'VFIO_DEVICE_RESET', undefined, { expect: { errno: 'EINVAL' } })]);
    const last = r.steps[r.steps.length - 1]!;
    expect(last.outcome?.decidedBy).toContain('!vdev->reset_works');
    expect(last.derived.map((d) => d.op)).not.toContain('bar.zapped');
    expect(last.derived.map((d) => d.op)).not.toContain('mmu_notifier.invalidate_start');
    expect(barState(r)).toBe('populated');
  });

  it('zaps the BAR and resets a device with a reset method', () => {
    const r = probe([...withBar(), ioctl(DFD, 'VFIO_DEVICE_RESET', undefined, ok())]);
    expect(r.steps[r.steps.length - 1]!.derived.map((d) => d.op)).toContain('bar.zapped');
    expect(barState(r)).toBe('empty');
  });

  it('hides the sysfs reset attribute of a device without a reset method (ENOENT)', () => {
    const r = probe([...withBar({ reset: false }), { op: 'sysfs', pid: PID, device: DEV, attr: 'reset', write: true, expect: { errno: 'ENOENT' } }]);
    expect(r.last.errno).toBe('ENOENT');
  });
});

describe('the BAR fault (vfio_pci_mmap_huge_fault since v6.12, vfio_pci_mmap_fault before)', () => {
  const pagesOf = (r: ReturnType<typeof probe>): bigint[] => procMm(r.world).vmas.find((v) => v.kind === 'bar')?.pages ?? [];
  const faults = (r: ReturnType<typeof probe>): number => r.steps[r.steps.length - 1]!.derived.filter((d) => d.op === 'bar.fault').length;
  const touchSecond = { op: 'touch', pid: PID, addr: hex(BAR_VA + 0x1000n), write: true, ...ok() };

  it('inserts only the faulting page since v6.12, so the next page faults again', () => {
    const r = probe([...withBar(), touchSecond]);
    expect(pagesOf(r)).toEqual([BAR_VA, BAR_VA + 0x1000n]);
    expect(faults(r)).toBe(1);
  });

  it('populates the whole vma before v6.12, so the next page does not fault', () => {
    const r = probe([...withBar(), touchSecond], 'upstream', '6.11');
    expect(pagesOf(r)).toHaveLength(0x100);
    expect(faults(r)).toBe(0);
  });

  it('faults in each page of a MAP_DMA range over the BAR that has no PTE, and a zap removes them all', () => {
    const map = ioctl(CFD, 'VFIO_IOMMU_MAP_DMA', { flags: ['READ', 'WRITE'], vaddr: hex(BAR_VA), iova: '0x100000000', size: '0x3000' }, ok());
    const r = probe([...withBar(), map]);
    expect(faults(r)).toBe(2);
    expect(pagesOf(r)).toEqual([BAR_VA, BAR_VA + 0x1000n, BAR_VA + 0x2000n]);
    const z = probe([...withBar(), map, { op: 'pci.command', pid: PID, fd: DFD, memory: false, ...ok() }]);
    expect(pagesOf(z)).toEqual([]);
    expect(barState(z)).toBe('empty');
  });
});

describe('mmap of a BAR smaller than a page (vfio_pci_probe_mmaps)', () => {
  const subPage = (phys: string): Rec[] =>
    prefix({ openDevice: true }).map((r) => (r['op'] === 'host.device' ? { ...r, bars: [{ index: 0, phys, size: '0x100' }] } : r));
  const mmapBar = (expect: Rec): Rec => ({ op: 'mmap', pid: PID, fd: DFD, offset: '0x0', length: '0x1000', addr: hex(BAR_VA), expect });

  it('maps the page of a page-aligned sub-page BAR (the rest of the page is reserved)', () => {
    const r = probe([...subPage('0xfd000000'), mmapBar({ ret: hex(BAR_VA) }), { op: 'touch', pid: PID, addr: hex(BAR_VA), ...ok() }]);
    expect(barState(r)).toBe('populated');
  });

  it('refuses a sub-page BAR that does not start a page (EINVAL: !bar_mmap_supported)', () => {
    const r = probe([...subPage('0xfd000800'), mmapBar({ errno: 'EINVAL' })]);
    expect(r.last.decidedBy).toContain('bar_mmap_supported');
  });
});

describe('runtime PM through VFIO_DEVICE_FEATURE (vfio_pci_core_pm_entry / _exit)', () => {
  const feature = (f: string, expect: Rec, flags: string[] = ['SET']): Rec => ioctl(DFD, 'VFIO_DEVICE_FEATURE', { flags, feature: f }, expect);
  const touch = (expect: Rec): Rec => ({ op: 'touch', pid: PID, addr: hex(BAR_VA), write: true, ...(Object.keys(expect).length > 0 ? { expect } : ok()) });

  it('LOW_POWER_ENTRY zaps the BAR under memory_lock, and the next touch gets SIGBUS (pm_runtime_engaged)', () => {
    const r = probe([...withBar(), feature('LOW_POWER_ENTRY', ok()), touch({ signal: 'SIGBUS' })]);
    expect(r.steps.flatMap((s) => s.derived.map((d) => d.op))).toContain('bar.zapped');
    expect(r.world.devices.get(DEV)?.pmRuntimeEngaged).toBe(true);
    expect(r.last.decidedBy).toContain('runtime PM engaged');
  });

  it('LOW_POWER_EXIT lets the BAR fault again', () => {
    const r = probe([...withBar(), feature('LOW_POWER_ENTRY', ok()), feature('LOW_POWER_EXIT', ok()), touch({})]);
    expect(r.world.devices.get(DEV)?.pmRuntimeEngaged).toBe(false);
    expect(barState(r)).toBe('populated');
  });

  it('a second LOW_POWER_ENTRY is EINVAL (already engaged), after its zap', () => {
    const r = probe([...withBar(), feature('LOW_POWER_ENTRY', ok()), feature('LOW_POWER_ENTRY', { expect: { errno: 'EINVAL' } })]);
    expect(r.last.decidedBy).toContain('vfio_pci_runtime_pm_entry: vdev->pm_runtime_engaged');
  });

  it('GET is EINVAL and PROBE is 0, neither zapping nor engaging (vfio_check_feature)', () => {
    const r = probe([...withBar(), feature('LOW_POWER_ENTRY', { expect: { errno: 'EINVAL' } }, ['GET']), feature('LOW_POWER_ENTRY', ok(), ['PROBE', 'SET']), touch({})]);
    expect(r.steps.flatMap((s) => s.derived.map((d) => d.op))).not.toContain('bar.zapped');
    expect(r.world.devices.get(DEV)?.pmRuntimeEngaged).toBe(false);
  });

  it('the last close leaves low power (vfio_pci_core_disable: vfio_pci_runtime_pm_exit)', () => {
    const r = probe([...prefix({ openDevice: true }), feature('LOW_POWER_ENTRY', ok()), { op: 'close', pid: PID, fd: DFD, ...ok() }]);
    expect(r.world.devices.get(DEV)?.pmRuntimeEngaged).toBe(false);
  });

  it('rejects a bad feature arg as bad input (exit 2) naming the field', () => {
    expect(() => probe([...withBar(), feature('D3COLD', ok())])).toThrow(expect.objectContaining({ code: 'input', message: expect.stringContaining("field 'arg.feature'") }));
    expect(() => probe([...withBar(), feature('LOW_POWER_EXIT', ok(), ['SOMETIMES'])])).toThrow(/field 'arg.flags'/);
  });
});
