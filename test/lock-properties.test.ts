/**
 * The two properties the kernel's own debugging would catch: ProtectedByLock (lockdep_assert_held)
 * and KernelUseAfterFree (KASAN's slab-use-after-free). Fixed schedules from
 * test/fixtures/races/ pin one interleaving each; explorations pin "on every schedule"; the lock
 * lists the properties made us correct are pinned against the kernel functions that take them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { explore, scenarioOf } from '../src/run/explore.js';
import { requirements } from '../src/run/engine.js';
import { parseLog } from '../src/log/reader.js';
import { Replay, replayItems, type ReplayReport } from '../src/run/replay.js';
import { defineScheme, upstream, type Scheme } from '../src/schemes/scheme.js';
import { builtinScheme } from '../src/schemes/catalogue.js';
import { assertHeld } from '../src/core/locks.js';
import { keep, noteFree, useKept } from '../src/core/lifetimes.js';
import { Tx } from '../src/core/tx.js';
import { emptyWorld, type Task } from '../src/core/world.js';
import { KERNEL } from '../src/kernel/tables.js';
import type { Stimulus, StimulusOf } from '../src/vocab/records.js';
import { ioctlLocks } from '../src/kernel/vfio/fops.js';
import { policyOf } from '../src/schemes/policies/index.js';
import { releaseOf } from '../src/vocab/releases.js';
import { DEV, DFD, MDEV, MDEV_GROUP, MIB2, PID, VA, hex, jsonl, mapDma, ok, prefix, probe, unmapDma } from './engine/helpers.js';


const ROOT = join(import.meta.dirname, '..');

async function fixtureScheme(name: string): Promise<Scheme> {
  return defineScheme(((await import(pathToFileURL(join(ROOT, 'test', 'fixtures', 'schemes', `${name}.mjs`)).href)) as { default: Scheme }).default);
}

function replayRace(name: string, scheme?: Scheme): ReplayReport {
  const file = join(ROOT, 'test', 'fixtures', 'races', `${name}.jsonl`);
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  return replayItems(header, items, file, undefined, scheme).report;
}

function found(scenario: string, scheme: Scheme): { exhausted: boolean; violated: string[]; messages: Map<string, string> } {
  const file = join(ROOT, 'src', 'scenarios', `${scenario}.jsonl`);
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  const r = explore(scenarioOf(header, items, file), scheme, { maxStates: 200_000 });
  return { exhausted: r.exhausted, violated: r.findings.map((f) => f.property).sort(), messages: new Map(r.findings.map((f) => [f.property, f.message])) };
}

/** A world in which task `t` runs a stimulus, holding `held`; a Tx of its step. */
function txOf(held: Task['held']): { tx: Tx; task: Task } {
  const w = emptyWorld();
  const s = { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', seq: 7, line: 7 } as unknown as Stimulus;
  const task: Task = { name: 't', queue: [], current: { stimulus: s, path: 'unmap_dma', state: 'callback', ctx: {} }, held, nonBlock: 0, deferred: [] };
  w.tasks.set('t', task);
  const tx = new Tx(w, upstream, 7, KERNEL, releaseOf({}));
  tx.task = task;
  return { tx, task };
}

describe('ProtectedByLock: every change happens under the lock the kernel protects it with', () => {
  it('fails when a type1 notifier callback unmaps a dma without iommu->lock (notifier-allocates), naming the structure, the lock, the task and the step', async () => {
    const r = replayRace('map-vs-munmap-notifier-allocates', await fixtureScheme('notifier-allocates'));
    const v = r.violations.filter((x) => x.property === 'ProtectedByLock');
    expect(v.map((x) => x.seq)).toEqual([17]);
    expect(v[0]!.message).toMatch(/^vfio_dma 5@0x400000's mapping and pins \(vfio_unmap_unpin\) changed without &iommu->lock \(iommu\.lock#5\) held: task munmap at munmap\.callback \(munmap, seq 13\)$/);
  });

  it('holds on every schedule of map-vs-munmap when the callback takes iommu->lock (notifier-takes-iommu-lock)', async () => {
    const v = found('map-vs-munmap', await fixtureScheme('notifier-takes-iommu-lock'));
    expect(v.exhausted).toBe(true);
    expect(v.violated).not.toContain('ProtectedByLock');
    expect(v.violated).toContain('NoDeadlock');
  });

  it("fails the naive notifier's OOM-reaper callback, which uncharges locked_vm under mmap_lock held only for read (mm/util.c:__account_locked_vm: mmap_assert_write_locked)", () => {
    const v = found('oom-reap', builtinScheme('bar-notifier-naive')!);
    expect(v.violated).toContain('ProtectedByLock');
    expect(v.messages.get('ProtectedByLock')).toContain("mm 1's locked_vm changed without &mm->mmap_lock (mmap_lock#1) held for write: task reap (it holds it for read) at oom_reap.callback");
  });

  it('asserts the mode as lockdep_assert_held_write does, and records each change once per step', () => {
    const { tx } = txOf([{ id: 'mmap_lock#1', mode: 'read' }]);
    assertHeld(tx, 'mmap_lock#1', 'x', 'any');
    expect(tx.touched.unprotected).toEqual([]);
    assertHeld(tx, 'mmap_lock#1', 'x', 'write');
    assertHeld(tx, 'mmap_lock#1', 'x', 'write');
    assertHeld(tx, 'iommu.lock#5', 'the dma tree');
    expect(tx.touched.unprotected).toEqual([
      'x changed without &mm->mmap_lock (mmap_lock#1) held for write: task t (it holds it for read) at unmap_dma.callback (ioctl VFIO_IOMMU_UNMAP_DMA, seq 7)',
      'the dma tree changed without &iommu->lock (iommu.lock#5) held: task t at unmap_dma.callback (ioctl VFIO_IOMMU_UNMAP_DMA, seq 7)',
    ]);
  });
});

describe('the lock lists ProtectedByLock corrected, as the kernel takes them', () => {
  /** The locks the next step of the first queued stimulus of `task` waits for, after the set-up of race `name`. */
  function locksOf(name: string, task: string, upTo: number): string[] {
    const file = join(ROOT, 'test', 'fixtures', 'races', `${name}.jsonl`);
    const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
    const r = new Replay(header, file);
    for (const it of items) if (it.kind === 'stimulus' && it.stimulus.seq <= upTo) r.push(it);
    return requirements(r.world, r.scheme, r.world.tasks.get(task)!).flatMap((q) => ('lock' in q ? [`${q.lock} (${q.mode})`] : []));
  }

  it('the vendor unpin of an mdev-only container also takes the owner mmap_lock for write to uncharge (vfio_unpin_page_external -> vfio_lock_acct -> mm_lock_acct)', () => {
    expect(locksOf('mdev-notify-use-after-free', 'vendor', 14)).toEqual(['iommu.lock#5 (write)', 'mmap_lock#1 (write)']);
  });

  it('an mdev whose container has a type1 IOMMU is registered under group_lock, dev_set->lock, iommu->lock and device_list_lock (vfio_df_group_open -> vfio_iommu_type1_register_device), and SET_IOMMU attaches under iommu->lock', () => {
    const recs = [...prefix({ mdev: true, openDevice: true, mmapLength: 0n })];
    const r = probe(recs);
    const locks = (seq: number): string[] => {
      const w = probe(recs.slice(0, seq - 2)).world;
      const s = parseLog(jsonl({ format: 'iommu-model/1' }, recs)).items.flatMap((i) => (i.kind === 'stimulus' && i.stimulus.seq === seq ? [i.stimulus] : []))[0]!;
      return ioctlLocks(w, s as StimulusOf<'ioctl'>, policyOf(upstream)).map((l) => `${l.lock} (${l.mode})`);
    };
    expect(r.report.violations).toEqual([]);
    // seq 7: VFIO_SET_IOMMU, seq 8: VFIO_GROUP_GET_DEVICE_FD (the prefix's records start at seq 2)
    expect(locks(7)).toEqual(['container.group_lock#5 (write)', 'iommu.lock#5 (write)']);
    expect(locks(8)).toEqual([`group.group_lock#${MDEV_GROUP} (write)`, `dev_set.lock#${MDEV} (write)`, 'iommu.lock#5 (write)', 'device_list_lock#5 (write)']);
  });

  it("an unbind that force-detaches the container does it under the group's group_lock (vfio_device_remove_group), and uncharges under mmap_lock", () => {
    const r = probe([
      ...prefix({ openDevice: true }),
      mapDma(VA, 0n, MIB2, ['READ', 'WRITE'], ok()),
      { op: 'close', pid: PID, fd: DFD, ...ok() },
      { op: 'device.unbind', device: DEV, ...ok() },
    ]);
    expect(r.report.violations).toEqual([]);
    expect(r.steps.at(-1)!.derived.map((d) => d.op)).toContain('group.detached');
  });
  it("a VADDR update by another process moves the dma's charge under both mms' mmap_lock (vfio_change_dma_owner -> mm_lock_acct)", () => {
    const child = PID + 1;
    const r = probe([
      ...prefix(),
      mapDma(VA, 0n, MIB2, ['READ', 'WRITE'], ok()),
      unmapDma(0n, MIB2, ['VADDR'], { expect: { ret: 0, out: { size: hex(MIB2) } } }),
      { op: 'fork', pid: PID, child, ...ok(child) },
      { op: 'ioctl', pid: child, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['VADDR'], vaddr: hex(VA), iova: '0x0', size: hex(MIB2) }, ...ok() },
    ]);
    expect(r.report.violations).toEqual([]);
    const mmOfPid = (pid: number): number => r.world.mms.get(r.world.processes.get(pid)!.mm)!.lockedVm;
    expect([mmOfPid(PID), mmOfPid(child)]).toEqual([0, 512]);
  });
});

describe('KernelUseAfterFree: a pointer kept across a step is used only while its object lives', () => {
  it('fires under upstream when vfio_notify_dma_unmap reads dma->iova after another UNMAP_DMA freed the dma, naming both paths, the object and the freeing step', () => {
    const r = replayRace('mdev-notify-use-after-free');
    expect(r.divergences).toEqual([]);
    const v = r.violations.filter((x) => x.property === 'KernelUseAfterFree');
    expect(v.map((x) => x.seq)).toEqual([21]);
    expect(v[0]!.message).toBe(
      'task a used vfio_dma 5@0x0 (id 9) at unmap_dma.callback (ioctl VFIO_IOMMU_UNMAP_DMA, seq 12) (vfio_notify_dma_unmap: dma->iova, dma->size) ' +
        'after task b freed it at unmap_dma.lock (ioctl VFIO_IOMMU_UNMAP_DMA, seq 14) (vfio_iommu_type1.c:vfio_remove_dma: kfree(dma)); ' +
        'it kept the pointer from unmap_dma.lock (ioctl VFIO_IOMMU_UNMAP_DMA, seq 12), across the drop of iommu.lock#5, mmap_lock#1',
    );
  });

  it("holds for upstream's UNMAP_DMA retry loop: after the callbacks it walks again from the tree (goto again) and finds the dma gone", () => {
    const r = replayRace('mdev-unmap-retry-after-free');
    expect(r.divergences).toEqual([]);
    expect(r.violations.map((x) => x.property)).not.toContain('KernelUseAfterFree');
  });

  it('holds on every schedule of mdev-unmap-while-pinned under upstream', () => {
    const v = found('mdev-unmap-while-pinned', upstream);
    expect(v.exhausted).toBe(true);
    expect(v.violated).not.toContain('KernelUseAfterFree');
  });

  it('tells an object made again at the same key from the one the path kept, instead of silently using it', () => {
    const { tx, task } = txOf([]);
    keep(task, 'dma', 'vfio_dma', '5@0x0', 9);
    expect(useKept(tx, task, 'dma', { id: 9 }, 'read')).toBe(true);
    expect(useKept(tx, task, 'dma', { id: 12 }, 'read')).toBe(false);
    expect(tx.touched.useAfterFree[0]).toContain('after another object (id 12) now has its key');
  });

  it('names the task that freed the object when the free is noted, even if a new one has the key', () => {
    const { tx, task } = txOf([{ id: 'iommu.lock#5', mode: 'write' }]);
    keep(task, 'dma', 'vfio_dma', '5@0x0', 9);
    noteFree(tx, 'vfio_dma', '5@0x0', 9, 'vfio_remove_dma');
    expect(useKept(tx, task, 'dma', { id: 9 }, 'read')).toBe(false);
    expect(tx.touched.useAfterFree[0]).toContain('after task t freed it at unmap_dma.callback (ioctl VFIO_IOMMU_UNMAP_DMA, seq 7) (vfio_remove_dma)');
  });
});
