/**
 * Races pinned as fixed schedules: each log in test/fixtures/races/ is a built-in scenario's
 * set-up and task records followed by explicit step records (docs/concurrency.md) that choose ONE
 * interleaving. Each test replays its log with replayItems and asserts the exact violations (by
 * property and seq), no divergence, and the order in which the tasks returned. The logs of the
 * two notifier races say "upstream" in their header; the test passes the hand-written scheme.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blockedOn, describeBlock } from '../src/run/engine.js';
import type { Outcome } from '../src/core/tx.js';
import { parseLog } from '../src/log/reader.js';
import { Replay, replayItems, type ReplayReport, type StepRecord } from '../src/run/replay.js';
import { defineScheme, type Scheme } from '../src/schemes/scheme.js';

const ROOT = join(import.meta.dirname, '..');
const RACES = join(ROOT, 'test', 'fixtures', 'races');
const SCHEMES = join(ROOT, 'test', 'fixtures', 'schemes');

async function loadSchemeModule(name: string): Promise<Scheme> {
  // A computed URL: the module is loaded at run time as the CLI loads a scheme file.
  const mod = (await import(pathToFileURL(join(SCHEMES, `${name}.mjs`)).href)) as { default: Scheme };
  return defineScheme(mod.default);
}

function load(name: string): ReturnType<typeof parseLog> {
  const file = `${name}.jsonl`;
  return parseLog(readFileSync(join(RACES, file), 'utf8'), file);
}

interface Run {
  readonly report: ReplayReport;
  /** For each task, the seq of the step record with which its path returned, and the outcome. */
  readonly returned: ReadonlyMap<string, { readonly seq: number; readonly outcome: Outcome }>;
  /** Every step record, with the derived records it produced. */
  readonly steps: readonly StepRecord[];
}

function run(name: string, scheme?: Scheme): Run {
  const { header, items } = load(name);
  const returned = new Map<string, { seq: number; outcome: Outcome }>();
  const steps: StepRecord[] = [];
  const onStep = (r: StepRecord): void => {
    if (r.stimulus.op !== 'step') return;
    steps.push(r);
    if (r.outcome !== null) returned.set(r.stimulus.task!, { seq: r.stimulus.seq, outcome: r.outcome });
  };
  const { report } = replayItems(header, items, `${name}.jsonl`, onStep, scheme);
  return { report, returned, steps };
}

function violations(r: Run): Array<[string, number]> {
  return r.report.violations.map((v) => [v.property, v.seq]);
}

function returnedAt(r: Run, task: string): { seq: number; outcome: Outcome } {
  const x = r.returned.get(task);
  if (x === undefined) throw new Error(`task ${task} never returned`);
  return x;
}

/** The derived ops of the step record with `seq`. */
function derivedOps(r: Run, seq: number): string[] {
  const s = r.steps.find((x) => x.stimulus.seq === seq);
  if (s === undefined) throw new Error(`no step record ${seq}`);
  return s.derived.map((d) => d.op);
}

/**
 * Replays the log record by record; after each record whose seq is in `seqs`, reports whether
 * `task` could take its next step (null) or what it waits for.
 */
function blockedAfter(name: string, task: string, seqs: readonly number[]): Map<number, string | null> {
  const { header, items } = load(name);
  const r = new Replay(header, `${name}.jsonl`);
  const out = new Map<number, string | null>();
  for (const it of items) {
    r.push(it);
    if (it.kind !== 'stimulus' || !seqs.includes(it.stimulus.seq)) continue;
    const t = r.world.tasks.get(task);
    if (t === undefined) throw new Error(`no task ${task} after ${it.stimulus.seq}`);
    const b = blockedOn(r.world, r.scheme, t);
    out.set(it.stimulus.seq, b === null ? null : describeBlock(r.world, b));
  }
  return out;
}

describe('race 1: MAP_DMA against munmap when the type1 notifier takes iommu->lock', () => {
  //   map (MAP_DMA of buffer A, seq 12)                munmap (of buffer B, mapped for DMA, seq 13)
  //   14 validate the arguments
  //   15 mutex_lock(iommu->lock), link the vfio_dma
  //                                                    16 mmap_write_lock(mm)
  //                                                       invalidate_range_start -> type1 callback:
  //                                                       mutex_lock(iommu->lock)  [waits for map]
  //   vfio_pin_pages_remote: mmap_read_lock(mm)
  //      [waits for munmap]                            => ABBA wait-for cycle at 16: NoDeadlock
  const LOG = 'map-vs-munmap-notifier-lock';

  it('deadlocks once munmap holds mmap_lock while map holds iommu->lock', async () => {
    const r = run(LOG, await loadSchemeModule('notifier-takes-iommu-lock'));
    expect(r.report.scheme).toBe('notifier-takes-iommu-lock');
    expect(r.report.divergences).toEqual([]);
    expect(violations(r)).toEqual([['NoDeadlock', 16]]);
    const msg = r.report.violations[0]!.message;
    expect(msg).toContain('map waits for mmap_lock#1 (read), held by munmap');
    expect(msg).toContain('munmap waits for iommu.lock#5 (write), held by map');
    expect(r.returned.size).toBe(0);
  });

  it('is no deadlock under upstream, where munmap calls no type1 callback', () => {
    const r = run(LOG);
    expect(r.report.scheme).toBe('upstream');
    expect(r.report.divergences).toEqual([]);
    expect(violations(r)).toEqual([]);
  });
});

describe('race 2: MAP_DMA against munmap when the type1 notifier allocates with GFP_KERNEL', () => {
  //   map (MAP_DMA of buffer A)                        munmap (of buffer B)
  //   (set-up MAP_DMA of B, seq 11: mmu_notifier_register primes fs_reclaim -> invalidate_range_start)
  //   14 validate the arguments
  //   15 mutex_lock(iommu->lock), link the vfio_dma
  //                                                    16 mmap_write_lock(mm), invalidate_range_start
  //                                                    17 type1 callback: kmalloc(GFP_KERNEL) -> fs_reclaim
  //                                                       => invalidate_range_start -> fs_reclaim ->
  //                                                          invalidate_range_start: LockOrder
  //                                                    18 invalidate_range_end, unmap, unlock: returns 0
  //   19 mmap_read_lock(mm), pin A
  //   20 vfio_lock_acct
  //   21 iommu_map (GFP_KERNEL_ACCOUNT), mutex_unlock: returns 0
  const LOG = 'map-vs-munmap-notifier-allocates';

  it('closes a lock-order cycle through fs_reclaim at the callback, though both calls return 0', async () => {
    const r = run(LOG, await loadSchemeModule('notifier-allocates'));
    expect(r.report.scheme).toBe('notifier-allocates');
    expect(r.report.divergences).toEqual([]);
    // the callback also unmaps the dma without iommu->lock: ProtectedByLock (test/lock-properties.test.ts)
    expect(violations(r)).toEqual([['ProtectedByLock', 17], ['LockOrder', 17]]);
    expect(r.report.violations[1]!.message).toContain('mmu_notifier_invalidate_range_start -> fs_reclaim -> mmu_notifier_invalidate_range_start');
    expect(returnedAt(r, 'munmap')).toMatchObject({ seq: 18, outcome: { ret: 0n } });
    expect(returnedAt(r, 'map')).toMatchObject({ seq: 21, outcome: { ret: 0n } });
  });
});

describe('race 3: a process exits while its MAP_DMA is in flight (upstream)', () => {
  //   map (MAP_DMA of buffer B, seq 12)                exit (seq 13)
  //   14 validate the arguments
  //   15 mutex_lock(iommu->lock), link the vfio_dma    do_exit: waits for the syscalls in flight
  //   16 mmap_read_lock(mm), pin, unlock                  [blocked]
  //   17 vfio_lock_acct
  //   18 iommu_map, mutex_unlock: returns 0
  //                                                    19 begin the exit
  //                                                    20 mmput; exit_mmap: mmu_notifier_release
  //                                                    21 mmap_lock: unmap_vmas, free every vma, mmdrop
  //                                                    22 exit_files: close every fd
  //                                                    23 task_work: container file release
  //                                                    24 task_work: device file release (fput of the group file)
  //                                                    25 task_work: group file release: detach the last group,
  //                                                       type1 release unmaps and unpins A and B: returns 0
  const LOG = 'exit-waits-for-map';

  it('returns from the exit only after the MAP_DMA returned, with no violation', () => {
    const r = run(LOG);
    expect(r.report.divergences).toEqual([]);
    expect(violations(r)).toEqual([]);
    const map = returnedAt(r, 'map');
    const exit = returnedAt(r, 'exit');
    expect(map).toMatchObject({ seq: 18, outcome: { ret: 0n } });
    expect(exit).toMatchObject({ seq: 25, outcome: { ret: 0n } });
    expect(exit.seq).toBeGreaterThan(map.seq);
    // The exit's first step comes after the MAP_DMA's last.
    const firstExit = r.steps.find((s) => s.stimulus.task === 'exit')!;
    expect(firstExit.stimulus.seq).toBe(19);
  });

  it('holds the exit back while the MAP_DMA is in flight and lets it go once it returned', () => {
    const b = blockedAfter(LOG, 'exit', [14, 15, 16, 17, 18]);
    for (const seq of [14, 15, 16, 17]) expect(b.get(seq)).toContain('syscalls in flight of process 1');
    expect(b.get(18)).toBeNull();
  });

  it('unmaps and unpins both mappings in the releases of the exit', () => {
    const r = run(LOG);
    expect(derivedOps(r, 25)).toEqual(expect.arrayContaining(['group.detached', 'dma.removed', 'iommu.unmapped', 'pages.unpinned']));
    expect(derivedOps(r, 25).filter((op) => op === 'dma.removed')).toHaveLength(2);
  });
});

describe('race 4: device unbind while the process holding the device exits (upstream)', () => {
  //   unbind (device.unbind, seq 12)                   exit (pid 1 holds the device fd, seq 13)
  //   14 vfio_device_put_registration, request();
  //      wait_for_completion(&device->comp) [waits]
  //                                                    15 begin the exit
  //                                                    16 mmput; exit_mmap: mmu_notifier_release
  //                                                    17 mmap_lock: unmap the buffer and BAR vmas, mmdrop
  //                                                    18 exit_files: close every fd
  //                                                    19 task_work (last fd first): device file
  //                                                       release: vfio_device_put_registration
  //                                                       -> complete()
  //                                                    20 task_work: container file release
  //   21 vfio_device_remove_group: force-detach the
  //      container (unmap + unpin): returns 0
  //                                                    22 task_work: group file release: returns 0
  const LOG = 'unbind-waits-for-exit';

  it('returns 0 from the unbind only after the exit released the device file', () => {
    const r = run(LOG);
    expect(r.report.divergences).toEqual([]);
    expect(violations(r)).toEqual([]);
    const unbind = returnedAt(r, 'unbind');
    expect(unbind).toMatchObject({ seq: 21, outcome: { ret: 0n } });
    const deviceRelease = r.steps.find((s) => s.derived.some((d) => d.op === 'file.released' && d['file'] === 'device:0000:01:00.0'))!;
    expect(deviceRelease.stimulus).toMatchObject({ task: 'exit', seq: 19 });
    expect(unbind.seq).toBeGreaterThan(deviceRelease.stimulus.seq);
    expect(derivedOps(r, 21)).toEqual(expect.arrayContaining(['device.unregistered', 'group.detached', 'dma.removed']));
    expect(returnedAt(r, 'exit')).toMatchObject({ seq: 22, outcome: { ret: 0n } });
  });

  it('keeps the unbind waiting for the last registration reference until the device file is released', () => {
    const b = blockedAfter(LOG, 'unbind', [14, 15, 16, 17, 18, 19, 20]);
    for (const seq of [14, 15, 16, 17, 18]) expect(b.get(seq)).toContain('last registration reference of 0000:01:00.0');
    expect(b.get(19)).toBeNull();
  });
});

describe('race 5: P2P DMA through a BAR mapping after the BAR was zapped (upstream)', () => {
  //   p2p (MAP_DMA of B's BAR vma), then dma           zap (PCI_COMMAND memory=0 on B)
  //   18 validate the arguments
  //   19 mutex_lock(iommu->lock), link the vfio_dma
  //   20 mmap_read_lock(mm); follow_fault_pfn ->
  //      vfio_pci_mmap_huge_fault under
  //      down_read(memory_lock): B's BAR pfn
  //                                                    21 down_write(memory_lock);
  //                                                       invalidate_range_start (no subscriber)
  //                                                    22 invalidate_range_end; vfio_pci_zap_bars
  //                                                       zaps the CPU PTEs only; decode off: returns 0
  //   23 vfio_lock_acct (a PFNMAP: nothing charged)
  //   24 iommu_map(B's BAR pfn), unlock: returns 0
  //   25 dma: device A writes to the P2P iova
  //      -> lands on B's BAR, decode off
  //      => NoDmaToDisabledMmio (docs/findings/pfnmap-dma-after-zap.md)
  //   (26 cpu: touch of the BAR -> SIGBUS)
  const LOG = 'p2p-dma-after-zap';

  it('lets device A reach device B BAR with decode off, because the zap leaves the IOMMU mapping', () => {
    const r = run(LOG);
    expect(r.report.divergences).toEqual([]);
    expect(violations(r)).toEqual([['NoDmaToDisabledMmio', 25]]);
    expect(r.report.violations[0]!.message).toContain('0000:02:00.0 BAR0');
    expect(returnedAt(r, 'zap')).toMatchObject({ seq: 22, outcome: { ret: 0n } });
    expect(returnedAt(r, 'p2p')).toMatchObject({ seq: 24, outcome: { ret: 0n } });
    expect(returnedAt(r, 'dma')).toMatchObject({ seq: 25, outcome: { dma: 'ok' } });
    expect(returnedAt(r, 'cpu')).toMatchObject({ seq: 26, outcome: { signal: 'SIGBUS' } });
    // the zap's second step (invalidate_range_end, then the zap itself) removes only CPU PTEs
    expect(derivedOps(r, 22)).toContain('bar.zapped');
    expect(derivedOps(r, 22)).not.toContain('iommu.unmapped');
  });
});

describe('race 6: two UNMAP_DMA of mdev-pinned dmas on one container (upstream)', () => {
  //   a (UNMAP_DMA of dma 0x0)                       b (UNMAP_DMA of dma 0x1000)
  //   16 validate
  //   17 mutex_lock(iommu->lock); walk: dma 0x0 has
  //      pfn_list entries -> vfio_notify_dma_unmap
  //   18 mutex_lock(device_list_lock);
  //      mutex_unlock(iommu->lock)
  //                                                  19 validate
  //                                                  20 mutex_lock(iommu->lock); walk: dma 0x1000
  //                                                     has pfn_list entries -> wants device_list_lock
  //   (next) dma_unmap -> vfio_unpin_pages:
  //      mutex_lock(iommu->lock) [waits for b]       [waits for a]
  //   => wait-for cycle at 20: NoDeadlock (and, over all schedules, LockOrder
  //      iommu.lock -> device_list_lock -> iommu.lock)
  const LOG = 'mdev-unmap-vs-unmap';

  it('deadlocks: a holds device_list_lock and waits for iommu->lock, which b holds while it waits for device_list_lock', () => {
    const r = run(LOG);
    expect(r.report.divergences).toEqual([]);
    // a's callback never runs in this history, so its device_list_lock -> iommu.lock edge is not
    // recorded here (the full-scenario check finds the LockOrder too).
    expect(violations(r)).toEqual([['NoDeadlock', 20]]);
    expect(r.report.violations[0]!.message).toContain('a waits for iommu.lock');
    expect(r.report.violations[0]!.message).toContain('b waits for device_list_lock');
  });
});

describe('race 7: a zap between mmu_interval_read_begin and read_retry (pinless interval-notifier scheme)', () => {
  //   p2p (MAP_DMA of B's BAR vma)                     zap (PCI_COMMAND memory=0 on B)
  //   17-19 validate, iommu->lock + link, insert the interval notifier
  //   20 seq = mmu_interval_read_begin()
  //   21 mmap_read_lock; hmm_range_fault: B's BAR pfn
  //                                                    22 down_write(memory_lock);
  //                                                       invalidate_range_start: seq odd
  //                                                    23 interval callback: update_lock,
  //                                                       set seq, unmap (nothing mapped yet)
  //                                                    24 invalidate_range_end; zap PTEs; returns 0
  //   25 update_lock; mmu_interval_read_retry: true -> unlock, begin again
  //   26 read_begin; 27 fault: decode off -> SIGBUS
  //   28 -> MAP_DMA returns EFAULT, nothing mapped
  //   29 dma: device A's DMA to the P2P iova faults
  //   => every property holds: the IOMMU never maps the BAR once its decode is off
  const LOG = 'interval-retry';

  it('retries after the invalidation, then fails with EFAULT, and the device never reaches the disabled BAR', async () => {
    const r = run(LOG, await loadSchemeModule('interval-notifier'));
    expect(r.report.violations).toEqual([]);
    expect(derivedOps(r, 25)).toContain('mmu_interval_notifier.retry');
    expect(returnedAt(r, 'zap')).toMatchObject({ seq: 24, outcome: { ret: 0n } });
    expect(returnedAt(r, 'p2p')).toMatchObject({ seq: 28, outcome: { errno: 'EFAULT' } });
    expect(returnedAt(r, 'dma')).toMatchObject({ seq: 29, outcome: { dma: 'fault' } });
  });
});
