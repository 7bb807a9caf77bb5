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
