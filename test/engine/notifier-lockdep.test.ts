/**
 * exit_mmap's order and the extent of the lockdep map __mmu_notifier_invalidate_range_start_map
 * (mm/mmap.c, mm/memory.c, mm/mmu_notifier.c, include/linux/mmu_notifier.h, mm/page_alloc.c).
 * Each test steps fixed schedules one atomic step at a time and looks at the lock edges each
 * step records and at the world between steps.
 */
import { releaseOf } from '../../src/vocab/releases.js';
import { describe, expect, it } from 'vitest';
import { emptyWorld, type Mm, type Task, type World } from '../../src/core/world.js';
import { parseLog } from '../../src/log/reader.js';
import { addToTask, applyStimulus, blockedOn, stepTask, type Stepped } from '../../src/run/engine.js';
import { meets } from '../../src/run/replay.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { DEV, GROUP, MIB2, PID, VA, hex, jsonl, mapDma, ok, prefix, type Rec } from './helpers.js';

const MAP = 'mmu_notifier_invalidate_range_start';
const BAR_VA = 0x7f1000000000n;
const BAR_SIZE = 0x100000n;
const BAR_IOVA = 0x100000000n;

/** seed 002's type1 notifier whose callback takes iommu->lock (and allocates nothing). */
const TYPE1_NOTIFIER = defineScheme({
  name: 'notifier-takes-iommu-lock',
  summary: 'type1 MMU notifier whose callback takes iommu->lock',
  source: 'seed 002',
  type1Notifier: { takesIommuLock: true, allocates: false },
});

function scheme(name: string): Scheme {
  const s = builtinScheme(name);
  if (s === undefined) throw new Error(`no scheme ${name}`);
  return s;
}

/** A log's records without a task run at once (each must meet its expectation); the others queue. */
class Schedule {
  readonly world: World = emptyWorld();
  constructor(
    private readonly scheme: Scheme,
    records: readonly Rec[],
  ) {
    const { items } = parseLog(jsonl({ format: 'iommu-model/1', scheme: 'upstream' }, records));
    for (const item of items) {
      if (item.kind !== 'stimulus') continue;
      const s = item.stimulus;
      if (s.task !== undefined) {
        addToTask(this.world, s);
        continue;
      }
      const applied = applyStimulus(this.world, this.scheme, s, releaseOf({}));
      if (s.expect !== undefined && !meets(s.expect, applied.outcome)) throw new Error(`record ${s.seq} (${s.op}) did not meet its expectation: ${applied.outcome.decidedBy}`);
    }
  }

  step(task: string): Stepped {
    return stepTask(this.world, this.scheme, task, 0, releaseOf({}));
  }

  task(name: string): Task {
    return this.world.tasks.get(name)!;
  }

  mm(): Mm {
    return this.world.mms.get(this.world.processes.get(PID)!.mm)!;
  }
}

const edges = (st: Stepped): string[] => [...new Set(st.touched.lockEdges.map((e) => `${e.from} -> ${e.to}`))];
const ops = (st: Stepped): string[] => st.derived.map((d) => d.op);
const holds = (t: Task, cls: string): boolean => t.held.some((h) => h.id.split('#')[0] === cls);

/** Device DEV with a 1 MiB BAR0, opened (fd 5), its BAR mmapped at BAR_VA. */
function withBar(): Rec[] {
  const recs = prefix({ openDevice: true, mmapLength: 0n });
  recs[0] = { op: 'host.device', device: DEV, group: GROUP, bars: [{ index: 0, phys: '0xfc000000', size: hex(BAR_SIZE) }] };
  return [...recs, { op: 'mmap', pid: PID, fd: 5, offset: '0x0', length: hex(BAR_SIZE), addr: hex(BAR_VA), expect: { ret: hex(BAR_VA) } }];
}

describe('exit_mmap: mmu_notifier_release runs before mmap_lock is taken (mm/mmap.c:exit_mmap)', () => {
  // a mapped buffer registers the scheme's type1 notifier on the mm; then the process exits
  const exiting = (): Schedule => new Schedule(TYPE1_NOTIFIER, [...prefix({ mmapLength: MIB2 }), mapDma(VA, 0n, MIB2, ['READ', 'WRITE'], ok()), { op: 'exit', pid: PID, task: 'exit', ...ok() }]);

  it('calls the notifiers release with no lock held, then unmaps under mmap_lock with the lockdep map inside it', () => {
    const s = exiting();
    s.step('exit'); // wait
    const mm = s.step('exit');
    expect(ops(mm)).toContain('mm.exit_mmap');
    expect(s.task('exit').held).toEqual([]);
    expect(s.world.locks.has(`mmap_lock#${s.mm().id}`)).toBe(false);

    const release = s.step('exit');
    expect(ops(release)).toContain('dma.invalidated'); // the type1 notifier's release took iommu->lock
    expect(edges(release)).toEqual([]); // ... while holding nothing: no mmap_lock -> iommu.lock

    const unmap = s.step('exit');
    expect(ops(unmap)).toContain('vma.unmapped');
    expect(edges(unmap)).toEqual([`mmap_lock -> ${MAP}`]); // unmap_vmas' invalidate_range_start/end
    expect(s.task('exit').held).toEqual([]);
  });

  it('drops the last mm user at mmput, so the release callbacks find mmget_not_zero failing', () => {
    const s = exiting();
    s.step('exit');
    s.step('exit');
    expect(s.mm().state).toBe('exited');
    expect(s.mm().vmas.length).toBeGreaterThan(0); // exit_mmap has not unmapped yet
    expect(ops(s.step('exit'))).toContain('locked_vm.skipped'); // vfio_lock_acct: -ESRCH
  });
});

describe('mn_itree_release is a full invalidation of the interval notifiers (mm/mmu_notifier.c)', () => {
  const exiting = (): Schedule =>
    new Schedule(scheme('bar-interval-notifier'), [...withBar(), mapDma(BAR_VA, BAR_IOVA, BAR_SIZE, ['READ', 'WRITE'], ok()), { op: 'exit', pid: PID, task: 'exit', ...ok() }]);

  it('makes the mm seq odd at mn_itree_inv_start_range, gives the callback that odd seq, and makes it even at mn_itree_inv_end', () => {
    const s = exiting();
    const interval = s.mm().intervals[0]!;
    const idle = s.mm().itreeSeq;
    expect(idle % 2).toBe(0);
    expect(interval.seq).not.toBe(idle); // mmu_interval_read_begin would not wait

    s.step('exit'); // wait
    s.step('exit'); // mm: mmput, mmu_notifier_release begins
    const curSeq = s.mm().itreeSeq;
    expect(curSeq % 2).toBe(1);
    expect(s.mm().itreeActive).toBe(1);
    expect((s.task('exit').current!.ctx as { inflight?: number[] }).inflight).toEqual([s.mm().id]);

    const release = s.step('exit'); // the interval's invalidate, then mn_itree_inv_end
    expect(ops(release)).toContain('dma.invalidated');
    expect(s.mm().intervals[0]!.seq).toBe(curSeq); // mmu_interval_set_seq(cur_seq): odd
    expect(s.mm().itreeSeq).toBe(curSeq + 1); // even again
    expect(s.mm().itreeActive).toBe(0);
    expect((s.task('exit').current!.ctx as { inflight?: number[] }).inflight).toEqual([]);
  });

  it('invalidates the intervals left in the itree once more in unmap_vmas, under mmap_lock and the lockdep map', () => {
    const s = exiting();
    for (let i = 0; i < 3; i += 1) s.step('exit');
    const unmap = s.step('exit');
    expect(edges(unmap)).toEqual(expect.arrayContaining([`mmap_lock -> ${MAP}`, `${MAP} -> update_lock`, 'mmap_lock -> update_lock']));
    expect(s.mm().itreeSeq % 2).toBe(0);
    expect(s.mm().intervals[0]!.seq % 2).toBe(1);
  });
});

describe('the lockdep map is held while invalidate_range_start calls the callbacks, and not after it returns', () => {
  it('records map -> iommu.lock from a type1 callback (it runs inside the map) and leaves the map before invalidate_range_end', () => {
    const s = new Schedule(TYPE1_NOTIFIER, [
      ...prefix({ mmapLength: MIB2 }),
      mapDma(VA, 0n, MIB2, ['READ', 'WRITE'], ok()),
      { op: 'munmap', pid: PID, addr: hex(VA), length: hex(MIB2), task: 'munmap', ...ok() },
    ]);
    const enter = s.step('munmap');
    expect(edges(enter)).toEqual([`mmap_lock -> ${MAP}`]);
    expect(holds(s.task('munmap'), MAP)).toBe(true); // the callback is still to run

    const callback = s.step('munmap');
    expect(edges(callback)).toEqual(expect.arrayContaining([`${MAP} -> iommu.lock`, 'mmap_lock -> iommu.lock']));
    expect(holds(s.task('munmap'), MAP)).toBe(false); // invalidate_range_start returned
    expect(holds(s.task('munmap'), 'mmap_lock')).toBe(true);

    const leave = s.step('munmap'); // __mmu_notifier_invalidate_range_end takes the map again
    expect(edges(leave)).toEqual([`mmap_lock -> ${MAP}`]);
    expect(leave.finished?.outcome).toMatchObject({ ret: 0n });
  });

  it('tears a linked BAR mapping down after invalidate_range_start returned: memory_lock -> iommu.lock, and nothing out of the map', () => {
    const s = new Schedule(scheme('bar-vma-link'), [
      ...withBar(),
      mapDma(BAR_VA, BAR_IOVA, BAR_SIZE, ['READ', 'WRITE'], ok()),
      { op: 'pci.command', pid: PID, fd: 5, memory: false, task: 'zap', ...ok() },
    ]);
    const enter = s.step('zap');
    expect(edges(enter)).toEqual([`memory_lock -> ${MAP}`]);
    expect(holds(s.task('zap'), MAP)).toBe(false); // no subscriber of the mm: start returned at once
    const link = s.step('zap');
    expect(ops(link)).toContain('dma.revoked');
    expect(edges(link)).toEqual(['memory_lock -> iommu.lock']);
  });
});

describe('mmu_interval_read_begin and allocations take the lockdep map and release it at once', () => {
  it('records iommu.lock -> map at mmu_interval_read_begin under the interval scheme (MAP_DMA holds iommu->lock)', () => {
    const s = new Schedule(scheme('bar-interval-notifier'), [...withBar(), mapDma(BAR_VA, BAR_IOVA, BAR_SIZE, ['READ', 'WRITE'], { task: 'p2p', ...ok() })]);
    s.step('p2p'); // validate
    s.step('p2p'); // iommu->lock, link
    const insert = s.step('p2p'); // the first interval: __mmu_notifier_register kzallocs
    expect(edges(insert)).toEqual(expect.arrayContaining(['iommu.lock -> mmap_lock', 'mmap_lock -> fs_reclaim', `fs_reclaim -> ${MAP}`]));
    const begin = s.step('p2p');
    expect(edges(begin)).toEqual([`iommu.lock -> ${MAP}`]);
    expect(holds(s.task('p2p'), MAP)).toBe(false);
  });

  it('primes fs_reclaim -> map at every GFP_KERNEL allocation (fs_reclaim_acquire), under upstream too', () => {
    const s = new Schedule(scheme('upstream'), [...prefix({ mmapLength: MIB2 }), mapDma(VA, 0n, MIB2, ['READ', 'WRITE'], { task: 'map', ...ok() })]);
    const all: string[] = [];
    for (let i = 0; i < 5; i += 1) all.push(...edges(s.step('map')));
    expect(all).toEqual(expect.arrayContaining(['iommu.lock -> fs_reclaim', `fs_reclaim -> ${MAP}`]));
  });

  it('waits in mmu_interval_read_begin for a munmap between its interval callback and invalidate_range_end, which no longer holds the map', () => {
    const s = new Schedule(scheme('bar-interval-notifier'), [
      ...withBar(),
      mapDma(BAR_VA, BAR_IOVA, BAR_SIZE, ['READ', 'WRITE'], { task: 'p2p', ...ok() }),
      { op: 'munmap', pid: PID, addr: hex(BAR_VA), length: hex(BAR_SIZE), task: 'munmap', ...ok() },
    ]);
    for (let i = 0; i < 3; i += 1) s.step('p2p'); // validate, lock, insert
    s.step('munmap'); // mmap_lock, invalidate_range_start: the seq goes odd
    s.step('munmap'); // the interval callback: mmu_interval_set_seq
    expect(holds(s.task('munmap'), MAP)).toBe(false);
    const b = blockedOn(s.world, scheme('bar-interval-notifier'), s.task('p2p'));
    expect(b).toMatchObject({ ready: false, on: ['munmap'] });
    s.step('munmap'); // invalidate_range_end
    expect(blockedOn(s.world, scheme('bar-interval-notifier'), s.task('p2p'))).toBeNull();
  });
});
