import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFtrace, parseLine, type TraceEvent } from '../../src/import/ftrace.js';
import { ftraceToLog, logText } from '../../src/import/ftrace-log.js';
import { checkImportedTrace } from '../../src/run/trace-check.js';
import { InputError } from '../../src/vocab/errors.js';
import { parseLog } from '../../src/log/reader.js';
import { run } from '../cli-run.js';

const F = 'test/fixtures/ftrace';
const ctx = (event: string): string => ` qemu-system-x86-4242    [001] d..1. 1234.567890: ${event}`;
const one = (line: string): TraceEvent => {
  const ev = parseLine(line, 7, 't.trace');
  if (ev === null || typeof ev === 'string') throw new Error(`not an event: ${String(ev)}`);
  return ev;
};
const check = (text: string) => {
  const log = ftraceToLog(parseFtrace(text, 't.trace'), 't.trace');
  return { log, ...checkImportedTrace(log, 't.jsonl') };
};
const MAP = (iova: number, size: number, task = 'qemu-4242'): string =>
  `${task} [001] 1.000000: map: IOMMU: iova=0x${iova.toString(16).padStart(16, '0')} - 0x${(iova + size).toString(16).padStart(16, '0')} paddr=0x0000000123400000 size=${size}`;
const UNMAP = (iova: number, size: number, unmapped = size, task = 'qemu-4242'): string =>
  `${task} [001] 2.000000: unmap: IOMMU: iova=0x${iova.toString(16).padStart(16, '0')} - 0x${(iova + size).toString(16).padStart(16, '0')} size=${size} unmapped_size=${unmapped}`;

describe('ftrace lines (include/trace/events/iommu.h TP_printk)', () => {
  it('map: the tracefs shape with latency flags', () => {
    const e = one(ctx('map: IOMMU: iova=0x0000000000100000 - 0x0000000000300000 paddr=0x0000000123400000 size=2097152'));
    expect(e).toMatchObject({ kind: 'map', comm: 'qemu-system-x86', pid: 4242, cpu: 1, line: 7, iova: 0x100000n, size: 0x200000n, paddr: 0x123400000n });
  });
  it('map: the trace-cmd report shape, and the (tgid) column', () => {
    expect(one('qemu-4242 [003] 1234.567890: map: IOMMU: iova=0x0000000000001000 - 0x0000000000002000 paddr=0x0000000000005000 size=4096')).toMatchObject({ kind: 'map', pid: 4242, iova: 0x1000n });
    expect(one('  <idle>-0       (-------) [000] ..s. 10.000001: map: IOMMU: iova=0x0000000000001000 - 0x0000000000002000 paddr=0x0000000000005000 size=4096')).toMatchObject({ comm: '<idle>', pid: 0 });
  });
  it('a comm with dashes and spaces keeps them', () => {
    expect(one('   irq/26-AMD-Vi-154     [006] .....   327.753942: io_page_fault: IOMMU:ath12k_pci 0000:c2:00.0 iova=0x00000000fe980000 flags=0x0001')).toMatchObject({ comm: 'irq/26-AMD-Vi', pid: 154, kind: 'fault', driver: 'ath12k_pci', device: '0000:c2:00.0', iova: 0xfe980000n, flags: 1 });
  });
  it('unmap, with unmapped_size', () => {
    expect(one(ctx('unmap: IOMMU: iova=0x0000000000200000 - 0x0000000000400000 size=2097152 unmapped_size=1048576'))).toMatchObject({ kind: 'unmap', iova: 0x200000n, size: 0x200000n, unmapped: 0x100000n });
  });
  it('attach, detach, add and remove from group', () => {
    expect(one(ctx('attach_device_to_domain: IOMMU: device=0000:03:00.0'))).toMatchObject({ kind: 'attach', device: '0000:03:00.0' });
    expect(one(ctx('detach_device_from_domain: IOMMU: device=0000:03:00.0'))).toMatchObject({ kind: 'detach' });
    expect(one(ctx('add_device_to_group: IOMMU: groupID=17 device=0000:03:00.0'))).toMatchObject({ kind: 'group_add', group: 17 });
    expect(one(ctx('remove_device_from_group: IOMMU: groupID=17 device=0000:03:00.0'))).toMatchObject({ kind: 'group_remove', group: 17 });
  });
  it('io_page_fault with no driver string', () => {
    expect(one(ctx('io_page_fault: IOMMU: 0000:03:00.0 iova=0x0000000000001000 flags=0x0000'))).toMatchObject({ kind: 'fault', driver: '', device: '0000:03:00.0' });
  });
  it('sys_enter_ioctl and sys_exit_ioctl in both printers (trace_syscalls.c and print_fmt)', () => {
    expect(one(ctx('sys_ioctl(fd: 3, cmd: 3b71, arg: 7ffc12345670)'))).toMatchObject({ kind: 'ioctl_enter', fd: 3n, cmd: 0x3b71n, arg: 0x7ffc12345670n });
    expect(one(ctx('sys_enter_ioctl: fd: 0x00000003, cmd: 0x00003b72, arg: 0x7ffc12345670'))).toMatchObject({ kind: 'ioctl_enter', cmd: 0x3b72n });
    expect(one(ctx('sys_ioctl -> 0xfffffffffffffff2'))).toMatchObject({ kind: 'ioctl_exit', ret: 0xfffffffffffffff2n });
    expect(one(ctx('sys_exit_ioctl: 0x0'))).toMatchObject({ kind: 'ioctl_exit', ret: 0n });
  });
  it('other events are named, other lines are not events', () => {
    expect(parseLine(ctx('dma_alloc: 0000:c2:00.0 dma_addr=fe980000 size=524288'), 1, 't')).toBe('dma_alloc');
    expect(parseLine(ctx('sys_mmap(addr: 0, len: 1000)'), 1, 't')).toBe('sys_enter_mmap');
    expect(parseLine('# tracer: nop', 1, 't')).toBeNull();
    expect(parseLine('cpus=4', 1, 't')).toBeNull();
  });
  it('a known event whose text is not its format is bad input naming line and event', () => {
    expect(() => parseLine(ctx('map: IOMMU: iova=0x0000000000100000 -'), 7, 't.trace')).toThrow(InputError);
    expect(() => parseLine(ctx('map: IOMMU: iova=0x0000000000100000 -'), 7, 't.trace')).toThrow(/^t\.trace:7: field 'map': expected "IOMMU: iova=/);
    // the end the line prints must be iova + size
    expect(() => parseLine(ctx('map: IOMMU: iova=0x0000000000100000 - 0x0000000000300000 paddr=0x0 size=4096'), 7, 't.trace')).toThrow(/iova \+ size is "0x101000"/);
    expect(() => parseLine(ctx('unmap: IOMMU: iova=0x00000000000010000000000000000000 - 0x0 size=0 unmapped_size=0'), 3, 't')).toThrow(/above 2\^64-1/);
  });
  it('a line longer than --max-line is bad input', () => {
    expect(() => parseFtrace(`${'x'.repeat(100)}\n`, 't', 50)).toThrow(/t:1: line is longer than 50 bytes/);
  });
});

describe('the log the importer writes', () => {
  it('a run of adjacent maps is one MAP_DMA; the log reads back', () => {
    const { log } = check([MAP(0x100000, 0x100000), MAP(0x200000, 0x100000), MAP(0x800000, 0x1000)].join('\n'));
    const maps = log.records.filter((r) => r['cmd'] === 'VFIO_IOMMU_MAP_DMA').map((r) => r['arg']);
    expect(maps).toEqual([
      { flags: ['READ', 'WRITE'], vaddr: '0x7f0000000000', iova: '0x100000', size: '0x200000' },
      { flags: ['READ', 'WRITE'], vaddr: '0x7f0000200000', iova: '0x800000', size: '0x1000' },
    ]);
    expect(() => parseLog(logText(log), 'x')).not.toThrow();
  });
  it('a MAP_DMA is cut where a later unmap begins, so the unmap does not bisect it (type1v2)', () => {
    const { log, findings, report } = check([MAP(0, 0x400000), UNMAP(0x200000, 0x200000)].join('\n'));
    expect(log.records.filter((r) => r['cmd'] === 'VFIO_IOMMU_MAP_DMA').map((r) => (r['arg'] as { iova: string }).iova)).toEqual(['0x0', '0x200000']);
    expect(findings).toEqual([]);
    expect(report.divergences).toEqual([]);
  });
  it('an unmap of what the trace never mapped was mapped before the recording began', () => {
    const { log, findings } = check(UNMAP(0x10000000, 0x1000));
    const first = log.records.find((r) => r['cmd'] === 'VFIO_IOMMU_MAP_DMA')!;
    expect(first['arg']).toMatchObject({ iova: '0x10000000', size: '0x1000' });
    expect(String(first['comment'])).toMatch(/before the trace began/);
    expect(findings).toEqual([]);
  });
  it('the groupID of add_device_to_group is the host.device group', () => {
    const { log } = check([ctx('add_device_to_group: IOMMU: groupID=17 device=0000:03:00.0'), MAP(0, 0x1000)].join('\n'));
    expect(log.records[0]).toMatchObject({ op: 'host.device', device: '0000:03:00.0', group: 17 });
    expect(log.records).toContainEqual(expect.objectContaining({ op: 'open', path: '/dev/vfio/17' }));
  });
  it('a trace with no iommu event is bad input', () => {
    expect(() => check('# tracer: nop\n')).toThrow(/no iommu map, unmap or io_page_fault/);
  });
  it('with two devices attached, a second map of the same range is the other domain\'s copy', () => {
    const two = [ctx('attach_device_to_domain: IOMMU: device=0000:03:00.0'), ctx('attach_device_to_domain: IOMMU: device=0000:04:00.0')];
    const { findings, log } = check([...two, MAP(0, 0x1000), MAP(0, 0x1000), UNMAP(0, 0x1000), UNMAP(0, 0x1000)].join('\n'));
    expect(findings).toEqual([]);
    expect(log.counts).toMatchObject({ map: 1, 'map (another domain)': 1, unmap: 1, 'unmap (another domain)': 1 });
  });
});

describe('the check: the model against the trace', () => {
  it('a map over a mapped range: no MAP_DMA explains it (EEXIST)', () => {
    const { findings } = check([MAP(0x100000, 0x100000), MAP(0x180000, 0x100000)].join('\n'));
    expect(findings.map((f) => [f.kind, f.line])).toEqual([['unexplained-map', 2]]);
    expect(findings[0]!.message).toMatch(/EEXIST/);
  });
  it('a map inside the MSI window: the model refuses it', () => {
    const { findings } = check(MAP(0xfee00000, 0x1000));
    expect(findings.map((f) => f.kind)).toEqual(['unexplained-map']);
  });
  it('a map during no mapping ioctl, when the syscalls are traced', () => {
    const { findings } = check([ctx('sys_ioctl(fd: 3, cmd: 3b71, arg: 7ffc0)'), MAP(0, 0x1000, 'qemu-system-x86-4242'), ctx('sys_ioctl -> 0x0'), MAP(0x10000, 0x1000, 'qemu-system-x86-4242')].join('\n'));
    expect(findings.map((f) => [f.kind, f.line])).toEqual([['unexplained-map', 4]]);
  });
  it('an unmap whose unmapped_size is short leaves the rest mapped', () => {
    const { findings, report } = check([MAP(0, 0x2000), UNMAP(0, 0x2000, 0x1000)].join('\n'));
    expect(findings.map((f) => [f.kind, f.line])).toEqual([['unmap-leaves-mapped', 2]]);
    expect(findings[0]!.message).toMatch(/the trace still maps \[0x1000, 0x2000\)/);
    // the model unmapped all of it: replay says so too
    expect(report.divergences.map((d) => d.op)).toEqual(['ioctl']);
  });
  it('faults: on a mapped IOVA, after an unmap, never mapped', () => {
    const fault = (iova: number): string => `irq/42-dmar0-77 [002] 9.000000: io_page_fault: IOMMU:vfio-pci 0000:03:00.0 iova=0x${iova.toString(16).padStart(16, '0')} flags=0x0001`;
    const { findings } = check([MAP(0, 0x2000), fault(0x1000), UNMAP(0, 0x2000), fault(0x1000), fault(0x900000)].join('\n'));
    expect(findings.map((f) => [f.kind, f.line])).toEqual([['fault-on-mapped', 2], ['fault-after-unmap', 4], ['fault-unmapped', 5]]);
    expect(findings[1]!.message).toMatch(/after the unmap at line 3/);
  });
  it('a map and its unmap that agree with the model: no finding', () => {
    const { findings, report } = check([MAP(0, 0x200000), MAP(0x200000, 0x1000), UNMAP(0, 0x200000), UNMAP(0x200000, 0x1000)].join('\n'));
    expect(findings).toEqual([]);
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
  });
});

describe('iommu-model import ftrace (end to end)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ftrace-'));
  const cases = [
    ['ath12k-use-after-unmap', 'fault-after-unmap'],
    ['amd-vi-io-page-fault', 'fault-unmapped'],
    ['synthetic-fault-on-mapped', 'fault-on-mapped'],
    ['synthetic-unmap-leaves-mapped', 'unmap-leaves-mapped'],
    ['synthetic-map-outside-ioctl', 'unexplained-map'],
    ['synthetic-double-map', 'unexplained-map'],
  ] as const;
  for (const [name, kind] of cases) {
    it(`${name}: reports ${kind} on stderr, exit 0 (the log is written), and writes a log replay reads`, async () => {
      const out = join(dir, `${name}.jsonl`);
      const r = await run('import', 'ftrace', `${F}/${name}.trace`, '-o', out);
      expect(r.code).toBe(0);
      expect(r.out).toBe('');
      expect(r.err).toMatch(new RegExp(`line \\d+: ${kind}: `));
      const replayed = await run('replay', out);
      expect(replayed.code).not.toBe(2);
    });
  }
  it('the fault on a mapped IOVA is a divergence when the written log is replayed', async () => {
    const out = join(dir, 'fom.jsonl');
    await run('import', 'ftrace', `${F}/synthetic-fault-on-mapped.trace`, '-o', out);
    const r = await run('replay', out);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/expected dma fault, got dma ok/);
  });
  it('without -o the log goes to stdout and the report to stderr', async () => {
    const r = await run('import', 'ftrace', `${F}/ath12k-use-after-unmap.trace`);
    expect(r.out.split('\n')[0]).toMatch(/^\{"format":"iommu-model\/1"/);
    expect(r.err).toMatch(/fault-after-unmap/);
    expect(() => parseLog(r.out, 'stdout')).not.toThrow();
  });
  it('bad input: a missing file, a malformed event, an unknown kind (exit 2, one line)', async () => {
    const missing = await run('import', 'ftrace', `${F}/nope.trace`);
    expect([missing.code, missing.err]).toEqual([2, `iommu-model: ${F}/nope.trace: no such file or directory\n`]);
    const file = join(dir, 'bad.trace');
    await import('node:fs').then((fs) => fs.writeFileSync(file, `${MAP(0, 0x1000)}\nqemu-1 [000] 1.0: unmap: IOMMU: nonsense\n`));
    const bad = await run('import', 'ftrace', file);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/bad\.trace:2: field 'unmap': expected "IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu"/);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    const kind = await run('import', 'pcap', file);
    expect(kind.code).toBe(2);
    expect(kind.err).toMatch(/field '<kind>': expected one of qemu-trace, ftrace, got "pcap"/);
  });
  it('a fixture keeps its source note', () => {
    for (const [name] of cases.slice(0, 2)) expect(readFileSync(`${F}/${name}.source.md`, 'utf8')).toMatch(/https:\/\//);
  });
});
