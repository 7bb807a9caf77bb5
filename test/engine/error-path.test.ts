/**
 * A task takes its error path (docs/concurrency.md): when one of its stimuli fails with an errno, its later
 * records never run, unless the failed record says "on_error": "continue"; an oops stops it
 * whatever the record says; a blocked DMA or a signal is not an error return.
 *
 * The device has pasid_bits 1, so the global PASID allocator has one PASID (ida_alloc_range
 * over [IOMMU_FIRST_GLOBAL_PASID, max_pasids - 1] = [1, 1]); process 1 holds it, and process 2's
 * bind gets ENOSPC (iommu-sva.c:iommu_alloc_mm_data).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasWork } from '../../src/run/engine.js';
import { inputError } from './helpers.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems, type StepRecord } from '../../src/run/replay.js';
import type { Derived } from '../../src/vocab/records.js';

type Rec = Record<string, unknown>;
const DEV = '0000:04:00.0';

/** Records 2-6: the device, two processes, process 1 bound (PASID 1). */
const PROLOGUE: readonly Rec[] = [
  { op: 'host.device', device: DEV, group: 41, pasid_bits: 1 },
  { op: 'process.spawn', pid: 1 },
  { op: 'process.spawn', pid: 2 },
  { op: 'mmap', pid: 2, addr: '0x7f0000000000', length: '0x10000' },
  { op: 'sva.bind', device: DEV, pid: 1, expect: { ret: 0, out: { pasid: 1 } } },
];
/** Record 7: process 2's bind, which fails with ENOSPC. */
const BIND2: Rec = { op: 'sva.bind', device: DEV, pid: 2, task: 'b', expect: { errno: 'ENOSPC' } };

function replay(records: readonly Rec[], scheme = 'upstream') {
  const text = [{ format: 'iommu-model/1', scheme }, ...records].map((r) => JSON.stringify(r)).join('\n');
  const { header, items } = parseLog(text, 'error-path.jsonl');
  const steps: StepRecord[] = [];
  const { report, world } = replayItems(header, items, 'error-path.jsonl', (r) => steps.push(r));
  const derived = steps.flatMap((s) => s.derived);
  /** The outcome each stimulus returned with, by seq. */
  const outcomes = new Map(steps.flatMap((s) => (s.outcome === null ? [] : [[s.stimulus.op === 'step' ? (s.derived.find((d) => d.op === 'task.returned')?.['seq'] as number) : s.stimulus.seq, s.outcome] as const])));
  return { report, world, derived, outcomes };
}

const errorPaths = (d: readonly Derived[]): Rec[] => d.filter((x) => x.op === 'task.error_path').map(({ cause: _c, id: _i, ...rest }) => rest);

describe('a task whose stimulus fails with an errno', () => {
  it('stops there: its later records never run, and task.error_path names the failed seq, its errno and the seqs skipped', () => {
    const { report, world, derived, outcomes } = replay([
      ...PROLOGUE,
      BIND2,
      { op: 'touch', pid: 2, addr: '0x7f0000000000', write: true, task: 'b' },
      { op: 'sva.unbind', device: DEV, pid: 2, task: 'b' },
    ]);
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect(outcomes.get(7)?.errno).toBe('ENOSPC');
    expect(errorPaths(derived)).toEqual([{ op: 'task.error_path', task: 'b', seq: 7, errno: 'ENOSPC', skipped: [8, 9] }]);
    // The touch never faulted the page in, and the unbind of the bond never made is not bad input.
    expect(outcomes.has(8)).toBe(false);
    expect(outcomes.has(9)).toBe(false);
    expect(world.mms.get(world.processes.get(2)!.mm)!.vmas.every((v) => v.phys === null)).toBe(true);
    expect(hasWork(world.tasks.get('b')!)).toBe(false);
    expect(world.bonds.map((b) => b.pid)).toEqual([1]);
  });

  it('goes on with "on_error": "continue": its next record runs', () => {
    const { report, world, derived, outcomes } = replay([...PROLOGUE, { ...BIND2, on_error: 'continue' }, { op: 'exit', pid: 2, task: 'b', expect: { ret: 0 } }]);
    expect(report.divergences).toEqual([]);
    expect(outcomes.get(7)?.errno).toBe('ENOSPC');
    expect(outcomes.get(8)?.ret).toBe(0n);
    expect(world.processes.get(2)!.state).toBe('exited');
    expect(errorPaths(derived)).toEqual([]);
  });

  it('with "on_error": "stop" stops, as without the field', () => {
    const { world, derived } = replay([...PROLOGUE, { ...BIND2, on_error: 'stop' }, { op: 'exit', pid: 2, task: 'b' }]);
    expect(world.processes.get(2)!.state).toBe('running');
    expect(errorPaths(derived)).toEqual([{ op: 'task.error_path', task: 'b', seq: 7, errno: 'ENOSPC', skipped: [8] }]);
  });

  it('that said continue runs a later unbind of the bond it never made, which is bad input naming line and field', () => {
    const e = inputError(() => replay([...PROLOGUE, { ...BIND2, on_error: 'continue' }, { op: 'sva.unbind', device: DEV, pid: 2, task: 'b' }]));
    expect([e.file, e.line, e.field]).toEqual(['error-path.jsonl', 8, 'device']);
    expect(e.detail).toContain('no SVA bond');
  });

  it('leaves its last record without a task.error_path record when there is nothing to skip', () => {
    const { report, derived } = replay([...PROLOGUE, BIND2]);
    expect(report.divergences).toEqual([]);
    expect(errorPaths(derived)).toEqual([]);
  });
});

describe('a recorded schedule', () => {
  it('that steps a task after it took its error path is bad input naming the step record and field task', () => {
    const step = { op: 'step', task: 'b' };
    const e = inputError(() => replay([...PROLOGUE, BIND2, { op: 'exit', pid: 2, task: 'b' }, step, step]));
    expect([e.line, e.field]).toEqual([10, 'task']);
    expect(e.detail).toBe('task "b" has nothing to run (it took its error path: record 7 failed with ENOSPC)');
  });

  it('that stops stepping the task at its failed record replays cleanly and shows the error path', () => {
    const { report, derived } = replay([...PROLOGUE, BIND2, { op: 'exit', pid: 2, task: 'b' }, { op: 'step', task: 'b', seq: 20 }]);
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect(derived.filter((d) => d.cause === 20).map((d) => d.op)).toEqual(['task.started', 'task.returned', 'task.error_path']);
  });
});

describe('outcomes that are not an error return', () => {
  it('a device DMA the IOMMU blocks does not stop its task', () => {
    const { outcomes } = replay([
      { op: 'host.device', device: DEV, group: 41 },
      { op: 'process.spawn', pid: 2 },
      { op: 'device.dma', device: DEV, iova: '0x1000', length: '0x40', task: 'd', expect: { dma: 'fault' } },
      { op: 'exit', pid: 2, task: 'd', expect: { ret: 0 } },
    ]);
    expect(outcomes.get(4)?.dma).toBe('fault');
    expect(outcomes.get(5)?.ret).toBe(0n);
  });

  it('a touch that gets SIGSEGV does not stop its task', () => {
    const { world, outcomes } = replay([
      { op: 'process.spawn', pid: 2 },
      { op: 'touch', pid: 2, addr: '0x1000', task: 'cpu', expect: { signal: 'SIGSEGV' } },
      { op: 'exit', pid: 2, task: 'cpu', expect: { ret: 0 } },
    ]);
    expect(outcomes.get(3)?.signal).toBe('SIGSEGV');
    expect(world.processes.get(2)!.state).toBe('exited');
  });
});

describe('an oops', () => {
  it('stops its task even when the record says continue (the kernel kills the thread)', () => {
    // mdev-unmap-while-pinned's set-up: a dma with two pages an mdev vendor pinned.
    const file = join(import.meta.dirname, '..', '..', 'src', 'scenarios', 'mdev-unmap-while-pinned.jsonl');
    const setup = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as Rec)
      .filter((r) => r['task'] === undefined);
    const unmap = { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: '0x0', size: '0x200000' }, task: 'unmap', on_error: 'continue' };
    const rw = { op: 'mdev.dma_rw', device: 'mdev-0', iova: '0x1000', length: '0x100', task: 'unmap' };
    const n = setup.length + 1;
    // The vendor ignores dma_unmap: vfio_dma_do_unmap hits BUG_ON(++retries > 10).
    const { report, derived } = replay([...setup, unmap, rw], 'mdev-vendor-ignores-unmap');
    expect(report.violations.map((v) => v.property)).toContain('KernelBug');
    const paths = errorPaths(derived);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({ task: 'unmap', seq: n + 1, skipped: [n + 2] });
    expect(String(paths[0]!['oops'])).toContain('BUG_ON(++retries > 10)');
    expect(derived.some((d) => d.op === 'mdev.dma_rw')).toBe(false);
  });
});
