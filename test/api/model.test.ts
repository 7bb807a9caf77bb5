/**
 * createModel: the model one record at a time gives what replay of the same log gives, record by
 * record; a record that cannot be used is an InputError that leaves the model as it was.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createModel, type Applied } from '../../src/api/model.js';
import type { StimulusRecord } from '../../src/api/records.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems } from '../../src/run/replay.js';
import { InputError } from '../../src/vocab/errors.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../fixtures/${name}.jsonl`, import.meta.url)), 'utf8');

/** A fixture's stimuli as apply takes them (its lines have no seq: a record's seq is its line). */
function records(text: string): StimulusRecord[] {
  return text.trim().split('\n').slice(1).map((l) => JSON.parse(l) as StimulusRecord);
}

const SETUP: StimulusRecord[] = [
  { op: 'host.device', device: '0000:01:00.0', group: 1, bars: [{ index: 0, phys: 0xe0000000n, size: '0x100000' }] },
  { op: 'process.spawn', pid: 1, rlimit_memlock: 0x1000000 },
  { op: 'open', pid: 1, path: '/dev/vfio/vfio' },
];

describe('createModel', () => {
  it.each(['spec-example', 'bar-p2p-disable', 'errno-order', 'kernel-6.17-type1'])('applies %s record by record as replay folds it', (name) => {
    const text = fixture(name);
    const { header, items } = parseLog(text);
    const replayed = replayItems(header, items);
    const model = createModel({ ...(header.kernel === undefined ? {} : { kernel: header.kernel }) });
    const applied: Applied[] = records(text).map((r) => model.apply(r));
    expect(applied.map((a) => a.seq)).toEqual(items.map((it) => (it.kind === 'stimulus' ? it.stimulus.seq : 0)));
    expect(applied.flatMap((a) => a.violations)).toEqual(replayed.report.violations);
    expect(applied.flatMap((a) => (a.divergence === undefined ? [] : [a.divergence]))).toEqual(replayed.report.divergences);
    expect(model.fingerprint()).toBe(replayed.report.fingerprint);
    expect(model.report()).toEqual(replayed.report);
    expect(replayItems(header, parseLog(model.log()).items).report.fingerprint).toBe(replayed.report.fingerprint);
  });

  it("spells each outcome as the log's expect does, with the kernel check that decided it", () => {
    const model = createModel();
    for (const r of SETUP) model.apply(r);
    expect(model.apply({ op: 'open', pid: 1, path: '/dev/vfio/1' })).toMatchObject({ seq: 5, op: 'open', line: 5, outcome: { ret: 4 }, returned: 5 });
    const bad = model.apply({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' });
    expect(bad.outcome?.errno).toBeDefined();
    expect(bad.decidedBy).toMatch(/\.c:/);
    expect(model.apply({ op: 'mmap', pid: 1, addr: 0x7f0000000000n, length: '0x200000' }).outcome).toEqual({ ret: '0x7f0000000000' });
  });

  it('reports the violation after the record that shows it, and the divergence of an unmet expect', () => {
    const text = fixture('bar-p2p-disable');
    const model = createModel();
    const applied = records(text).map((r) => model.apply(r));
    const hit = applied.find((a) => a.violations.length > 0);
    expect(hit?.violations[0]?.property).toBe('NoDmaToDisabledMmio');
    expect(hit?.violations.every((v) => v.seq === hit.seq)).toBe(true);
    const wrong = model.apply({ op: 'process.spawn', pid: 77, expect: { errno: 'EINVAL' } });
    expect(wrong.divergence).toMatchObject({ seq: wrong.seq, op: 'process.spawn', expected: { errno: 'EINVAL' } });
  });

  it("queues a task's stimulus and returns its outcome with the step that finishes its path", () => {
    const model = createModel();
    for (const r of SETUP) model.apply(r);
    const queued = model.apply({ op: 'open', pid: 1, path: '/dev/vfio/1', task: 'A' });
    expect(queued.outcome).toBeNull();
    let done: Applied | undefined;
    for (let i = 0; i < 10 && done === undefined; i += 1) {
      const a = model.apply({ op: 'step', task: 'A' });
      expect(a.step).toMatch(/\./);
      if (a.outcome !== null) done = a;
    }
    expect(done?.outcome).toEqual({ ret: 4 });
    expect(done?.returned).toBe(queued.seq);
  });

  it('rejects a record that cannot be used with an InputError naming line and field, and stays as it was', () => {
    const model = createModel();
    for (const r of SETUP) model.apply(r);
    const before = { fingerprint: model.fingerprint(), log: model.log() };
    const bad: unknown[] = [
      { op: 'open', pid: 1, path: '/dev/vfio/vfio', flags: 1 },
      { op: 'open', pid: 9, path: '/dev/vfio/vfio' },
      { op: 'open', pid: 1, path: '/dev/vfio/vfio', seq: 40 },
      { op: 'open', pid: 1 },
      { op: 'nope' },
      { op: 'step', task: 'nobody' },
      { op: 'mmap', pid: 1, length: -1 },
      [1, 2],
    ];
    for (const r of bad) {
      let err: unknown;
      try {
        model.apply(r as StimulusRecord);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).file).toBe('<model>');
      expect((err as InputError).line).toBe(5);
      expect(model.fingerprint()).toBe(before.fingerprint);
      expect(model.log()).toBe(before.log);
    }
    expect(model.apply({ op: 'open', pid: 1, path: '/dev/vfio/1' })).toMatchObject({ seq: 5, outcome: { ret: 4 } });
  });

  it('takes a built-in scheme by name or a Scheme object, and refuses an unknown one', () => {
    expect(createModel({ scheme: 'bar-vma-link' }).scheme.name).toBe('bar-vma-link');
    const own = createModel({ scheme: { ...createModel().scheme, name: 'mine', pfnmap: 'vma-link' } });
    expect(own.scheme.pfnmap).toBe('vma-link');
    expect(() => createModel({ scheme: 'no-such-scheme' })).toThrow(InputError);
    expect(() => createModel({ scheme: { ...createModel().scheme, pfnmap: 'nope' } as never })).toThrow(/pfnmap/);
    expect(() => createModel({ kernel: '4.0' as never })).toThrow(/kernel release/);
  });

  it('hands out a copy of the world, not the model itself', () => {
    const model = createModel();
    for (const r of SETUP) model.apply(r);
    const fp = model.fingerprint();
    model.world().processes.clear();
    expect(model.fingerprint()).toBe(fp);
    expect(model.view()['processes']).toHaveLength(1);
  });
});
