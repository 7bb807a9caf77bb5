/**
 * device_lock and trylocks: the driver core holds a device's device_lock across the driver's
 * remove (an unbind or hot-remove waiting in vfio_unregister_group_dev); the last close of a
 * vfio-pci device resets it only under pci_dev_trylock and skips the reset when that fails; a
 * trylock is recorded for lockdep the way kernel/locking/lockdep.c records one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquire, release, tryAcquire } from '../../src/core/locks.js';
import { Tx } from '../../src/core/tx.js';
import { emptyWorld, type Task } from '../../src/core/world.js';
import { KERNEL } from '../../src/kernel/tables.js';
import { releaseOf } from '../../src/vocab/releases.js';
import { parseLog } from '../../src/log/reader.js';
import { blockedOn, describeBlock } from '../../src/run/engine.js';
import { Replay, replayItems, type StepRecord } from '../../src/run/replay.js';
import { upstream } from '../../src/schemes/scheme.js';
import { DEV, DFD, ioctl, prefix, run, type Rec } from './helpers.js';

const SCENARIOS = join(import.meta.dirname, '..', '..', 'src', 'scenarios');

function task(name: string): Task {
  return { name, queue: [], current: null, held: [], nonBlock: 0, deferred: [] };
}

describe('tryAcquire', () => {
  it('takes a free lock without an edge from the locks held, and a lock taken under it depends on it', () => {
    const tx = new Tx(emptyWorld(), upstream, 1, KERNEL, releaseOf({}));
    const a = task('a');
    acquire(tx, a, 'dev_set.lock#d', 'write', 'test');
    expect(tryAcquire(tx, a, 'device_lock#d', 'write', 'test')).toBe(true);
    expect(tx.touched.lockEdges.filter((e) => e.to === 'device_lock')).toEqual([]);
    acquire(tx, a, 'reset_lock#d', 'write', 'test');
    expect(tx.touched.lockEdges.map((e) => `${e.from} -> ${e.to}`).sort()).toEqual(['dev_set.lock -> reset_lock', 'device_lock -> reset_lock']);
    expect(a.held.map((h) => h.id)).toEqual(['dev_set.lock#d', 'device_lock#d', 'reset_lock#d']);
  });

  it('fails at once while another task holds the lock, taking and recording nothing', () => {
    const tx = new Tx(emptyWorld(), upstream, 1, KERNEL, releaseOf({}));
    const holder = task('holder');
    const b = task('b');
    acquire(tx, holder, 'device_lock#d', 'write', 'test');
    acquire(tx, b, 'group.group_lock#1', 'write', 'test');
    b.nonBlock = 1; // a trylock does not sleep, so it is no NoBlockInNonBlockable violation either
    const edges = tx.touched.lockEdges.length;
    expect(tryAcquire(tx, b, 'device_lock#d', 'write', 'test')).toBe(false);
    expect(b.held.map((h) => h.id)).toEqual(['group.group_lock#1']);
    expect(tx.touched.lockEdges.length).toBe(edges);
    expect(tx.touched.nonBlockSleeps).toEqual([]);
    expect(tx.world.locks.get('device_lock#d')?.writer).toBe('holder');
    release(tx, holder, 'device_lock#d');
    expect(tryAcquire(tx, b, 'device_lock#d', 'write', 'test')).toBe(true);
  });
});

/** A built-in scenario followed by step records for `tasks`, in order. */
function scheduled(scenario: string, tasks: readonly string[]): string {
  const text = readFileSync(join(SCENARIOS, `${scenario}.jsonl`), 'utf8').trimEnd();
  return [text, ...tasks.map((t) => JSON.stringify({ op: 'step', task: t }))].join('\n');
}

function replaySteps(text: string): { steps: StepRecord[]; report: ReturnType<typeof replayItems>['report'] } {
  const { header, items } = parseLog(text, 'schedule.jsonl');
  const steps: StepRecord[] = [];
  const { report } = replayItems(header, items, 'schedule.jsonl', (r) => {
    if (r.stimulus.op === 'step') steps.push(r);
  });
  return { steps, report };
}

const ops = (s: StepRecord): string[] => s.derived.map((d) => d.op);

describe('hot-remove against the exit of the device holder (hot-remove-vs-exit, upstream)', () => {
  //   pciehp (device.unbind hot_remove, seq 12)      exit (pid 1 holds the device fd, seq 13)
  //   14 pci_lock_rescan_remove; device_lock;
  //      vfio_device_put_registration; waits
  //                                                  15-18 do_exit, exit_mmap, exit_files
  //                                                  19 the device file's release (the last fd's
  //                                                     first): vfio_pci_core_disable:
  //                                                     pci_dev_trylock fails -> no reset;
  //                                                     put_registration
  //                                                  20 the container file's release
  //   21 vfio_device_remove_group: returns 0
  //                                                  22 the group file's release: returns 0
  const SCHEDULE = ['pciehp', 'exit', 'exit', 'exit', 'exit', 'exit', 'exit', 'pciehp', 'exit'];

  it('skips the reset of the last close while the remover holds device_lock, and both return', () => {
    const { steps, report } = replaySteps(scheduled('hot-remove-vs-exit', SCHEDULE));
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    const release = steps.find((s) => s.derived.some((d) => d.op === 'file.released' && d['file'] === `device:${DEV}`))!;
    expect(release.stimulus.seq).toBe(19);
    const skipped = release.derived.find((d) => d.op === 'device.reset_skipped')!;
    expect(skipped).toMatchObject({ device: DEV, holder: 'pciehp' });
    expect(String(skipped['check'])).toContain('vfio_pci_core_disable: pci_dev_trylock(pdev) failed');
    expect(ops(release)).toContain('state'); // CLOSE_LAST: the registration reference went
    expect(steps.find((s) => s.stimulus.seq === 21)!.outcome).toMatchObject({ ret: 0n });
    expect(steps.find((s) => s.stimulus.seq === 22)!.outcome).toMatchObject({ ret: 0n });
  });

  it('resets at the last close when the exit runs before the remover takes device_lock', () => {
    const { steps, report } = replaySteps(scheduled('hot-remove-vs-exit', ['exit', 'exit', 'exit', 'exit', 'exit', 'exit', 'exit', 'pciehp', 'pciehp']));
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect(steps.flatMap(ops)).not.toContain('device.reset_skipped');
    expect(steps.flatMap(ops)).toContain('device.unregistered');
  });

  it('holds device_lock in the remover from its first step until it returns', () => {
    const r = new Replay(parseLog(scheduled('hot-remove-vs-exit', []), 'hr.jsonl').header, 'hr.jsonl');
    for (const it of parseLog(scheduled('hot-remove-vs-exit', ['pciehp']), 'hr.jsonl').items) r.push(it);
    expect(r.world.locks.get(`device_lock#${DEV}`)?.writer).toBe('pciehp');
    expect(r.world.locks.get('pci_rescan_remove_lock')?.writer).toBe('pciehp');
    expect(r.world.locks.has(`reset_lock#${DEV}`)).toBe(false);
  });
});

describe('a sysfs read that takes device_lock during a hot-remove (hot-remove-vs-sysfs, upstream)', () => {
  it("blocks the user's sysfs read on the remover's device_lock: a wait-for cycle at the remover's first step", () => {
    const text = scheduled('hot-remove-vs-sysfs', ['pciehp']);
    const { header, items } = parseLog(text, 'hs.jsonl');
    const r = new Replay(header, 'hs.jsonl');
    for (const it of items) r.push(it);
    const user = r.world.tasks.get('user')!;
    const b = blockedOn(r.world, r.scheme, user);
    expect(b).not.toBeNull();
    expect(describeBlock(r.world, b!)).toBe(`device_lock#${DEV} (write), held by pciehp`);
    const { report } = replaySteps(text);
    expect(report.violations.map((v) => [v.property, v.seq])).toEqual([['NoDeadlock', 13]]);
    expect(report.violations[0]!.message).toContain(`pciehp waits for the last registration reference of ${DEV}`);
    expect(report.violations[0]!.message).toContain(`user waits for device_lock#${DEV} (write), held by pciehp`);
  });

  it('lets both finish when the read and the close come before the removal', () => {
    // user: sysfs read (13), close (14) and its device file release (15), exit (16-20);
    // then pciehp: put (21) and remove (22).
    const { steps, report } = replaySteps(scheduled('hot-remove-vs-sysfs', ['user', 'user', 'user', 'user', 'user', 'user', 'user', 'user', 'pciehp', 'pciehp']));
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect(steps[0]!.outcome).toMatchObject({ ret: 0n, out: { value: '0' } });
    expect(steps.flatMap(ops)).not.toContain('device.reset_skipped');
    expect(steps[steps.length - 1]!.outcome).toMatchObject({ ret: 0n });
  });
});

describe('VFIO_DEVICE_RESET while a remover holds device_lock', () => {
  const setup = (): Rec[] => [...prefix({ openDevice: true, mmapLength: 0n }), { op: 'device.unbind', device: DEV, task: 'unbind' }, { op: 'step', task: 'unbind' }];

  it('fails with EAGAIN (pci_try_reset_function: pci_dev_trylock fails) instead of waiting', () => {
    const r = run([...setup(), ioctl(DFD, 'VFIO_DEVICE_RESET')]);
    expect(r.report.divergences).toEqual([]);
    expect(r.last).toMatchObject({ errno: 'EAGAIN', decidedBy: 'drivers/pci/pci.c:pci_try_reset_function: pci_dev_trylock(dev) failed' });
  });

  it('resets when nobody holds device_lock', () => {
    expect(run([...prefix({ openDevice: true, mmapLength: 0n }), ioctl(DFD, 'VFIO_DEVICE_RESET')]).last).toMatchObject({ ret: 0n });
  });
});
