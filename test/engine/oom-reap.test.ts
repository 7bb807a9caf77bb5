/**
 * The OOM reaper's invalidations (mm/oom_kill.c:__oom_reap_task_mm, mm/mmu_notifier.c:
 * mn_itree_invalidate): one invalidate_range_start_nonblock per reapable vma, top down, BAR
 * (VM_PFNMAP) vmas skipped; an interval callback whose trylock fails ends that vma's start with
 * -EAGAIN, calls no later callback, leaves the vma unreaped and the reap to be retried. Each test
 * runs the reaper one atomic step at a time and reads the records and the world between steps.
 */
import { releaseOf } from '../../src/vocab/releases.js';
import { describe, expect, it } from 'vitest';
import { emptyWorld, type Mm, type World } from '../../src/core/world.js';
import { parseLog } from '../../src/log/reader.js';
import { addToTask, applyStimulus, stepTask, type Stepped } from '../../src/run/engine.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import type { Scheme } from '../../src/schemes/scheme.js';
import { lockOf } from '../../src/vocab/locks.js';
import { DEV, GROUP, MIB2, PID, VA, hex, jsonl, mapDma, prefix, ok, type Rec } from './helpers.js';

const BAR_VA = 0x7f1000000000n;
const BAR_SIZE = 0x100000n;
const VB = VA + 2n * MIB2; // a second anonymous vma above VA, with a gap

/** The records run at once, the reap queued on task `reap`; then steps it to its return. */
function reap(scheme: Scheme, records: readonly Rec[], before: (w: World, m: Mm) => void = () => undefined): { world: World; mm: Mm; steps: Stepped[] } {
  const world = emptyWorld();
  const { items } = parseLog(jsonl({ format: 'iommu-model/1', scheme: 'upstream' }, [...records, { op: 'mm.oom_reap', pid: PID, task: 'reap', ...ok() }]));
  for (const item of items) {
    if (item.kind !== 'stimulus') continue;
    if (item.stimulus.task !== undefined) addToTask(world, item.stimulus);
    else applyStimulus(world, scheme, item.stimulus, releaseOf({}));
  }
  const mm = world.mms.get(world.processes.get(PID)!.mm)!;
  before(world, mm);
  const steps: Stepped[] = [];
  while (steps.at(-1)?.finished == null) {
    if (steps.length > 20) throw new Error('the reap did not return');
    steps.push(stepTask(world, scheme, 'reap', 0, releaseOf({})));
  }
  return { world, mm, steps };
}

/** The invalidation records of the steps, as `start <addr>` / `end` / `eagain`. */
function invalidations(steps: readonly Stepped[]): string[] {
  return steps.flatMap((s) =>
    s.derived.flatMap((d) => {
      if (d.op === 'mmu_notifier.invalidate_start') return [`start ${String(d.start)}`];
      if (d.op === 'mmu_notifier.invalidate_end') return ['end'];
      return d.op === 'mmu_notifier.eagain' ? ['eagain'] : [];
    }),
  );
}

/** Two anonymous vmas, at VA and VB, each given a backing as a first fault would. */
function twoVmas(): Rec[] {
  return [...prefix({ mmapLength: MIB2 }), { op: 'mmap', pid: PID, addr: hex(VB), length: hex(MIB2), expect: { ret: hex(VB) } }];
}
function backed(_w: World, m: Mm): void {
  m.vmas.forEach((v, i) => (v.phys = 0x40000000n + BigInt(i) * MIB2));
}

const outcome = (steps: readonly Stepped[]) => steps.at(-1)!.finished!.outcome;

describe('the OOM reaper invalidates each reapable vma on its own (mm/oom_kill.c:__oom_reap_task_mm)', () => {
  it('gives each anonymous vma its own invalidate_range_start_nonblock and _end, from the top of the address space down, and reaps both', () => {
    const r = reap(builtinScheme('upstream')!, twoVmas(), backed);
    expect(invalidations(r.steps)).toEqual([`start ${hex(VB)}`, 'end', `start ${hex(VA)}`, 'end']);
    expect(r.mm.vmas.map((v) => v.phys)).toEqual([null, null]);
    expect(outcome(r.steps).out).toEqual({ reaped: [hex(VB), hex(VA)], failed: [], retry: false });
    expect(r.mm.reaped).toBe(true);
  });

  it('skips a BAR (VM_PFNMAP) vma entirely: no invalidation covers it and the interval notifier on it is not called', () => {
    const bar: Rec[] = [
      ...prefix({ mmapLength: MIB2, openDevice: true }).map((x) => (x.op === 'host.device' ? { op: 'host.device', device: DEV, group: GROUP, bars: [{ index: 0, phys: '0xfc000000', size: hex(BAR_SIZE) }] } : x)),
      { op: 'mmap', pid: PID, fd: 5, offset: '0x0', length: hex(BAR_SIZE), addr: hex(BAR_VA), expect: { ret: hex(BAR_VA) } },
      mapDma(BAR_VA, 0x100000000n, BAR_SIZE, ['READ', 'WRITE'], ok()),
    ];
    let seq = 0;
    const r = reap(builtinScheme('bar-interval-notifier')!, bar, (_w, m) => {
      expect(m.intervals.map((i) => [i.start, i.end])).toEqual([[BAR_VA, BAR_VA + BAR_SIZE]]);
      seq = m.intervals[0]!.seq;
    });
    expect(invalidations(r.steps)).toEqual([`start ${hex(VA)}`, 'end']);
    expect(r.mm.intervals[0]!.seq).toBe(seq);
    expect(r.steps.flatMap((s) => s.derived.map((d) => d.op))).not.toContain('dma.invalidated');
    expect(outcome(r.steps).out).toEqual({ reaped: [hex(VA)], failed: [], retry: false });
  });

  it('leaves a vma whose interval callback fails its trylock (EAGAIN) unreaped, calls no later callback of its range, reaps the others and says retry', () => {
    const c = 7;
    const r = reap(builtinScheme('bar-interval-notifier')!, twoVmas(), (w, m) => {
      backed(w, m);
      // two interval notifiers on the lower vma; another task holds their driver's update lock
      m.intervals.push({ container: c, dmaIova: 0n, start: VA, end: VA + MIB2, seq: 1 }, { container: c, dmaIova: MIB2, start: VA, end: VA + MIB2, seq: 1 });
      w.locks.set(lockOf.update(c), { kind: 'mutex', writer: 'other', readers: [] });
    });
    expect(invalidations(r.steps)).toEqual([`start ${hex(VB)}`, 'end', `start ${hex(VA)}`, 'eagain']);
    expect(r.mm.intervals.map((i) => i.seq)).toEqual([1, 1]);
    expect(r.steps.flatMap((s) => s.derived.filter((d) => d.op === 'mmu_notifier.eagain'))).toHaveLength(1);
    expect(r.mm.vmas.map((v) => v.phys)).toEqual([0x40000000n, null]);
    expect(outcome(r.steps).out).toEqual({ reaped: [hex(VB)], failed: [hex(VA)], retry: true });
    expect(r.mm.reaped).toBe(false);
    // mn_itree_invalidate's out_would_block ran mn_itree_inv_end; the map and the non_block section are left
    expect([r.mm.itreeActive, r.mm.itreeSeq % 2]).toEqual([0, 0]);
    const t = r.world.tasks.get('reap');
    expect([t?.nonBlock ?? 0, t?.held.length ?? 0]).toEqual([0, 0]);
  });
});
