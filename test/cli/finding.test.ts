import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChainLink, LockScenario } from '../../src/checks/scenario.js';
import { runDemo } from '../../src/cli/commands/demo.js';
import { detailLines, scenarioLines, WIDTH } from '../../src/cli/render/finding.js';
import { upstream } from '../../src/schemes/scheme.js';
import { run } from '../cli-run.js';

const TAKES_LOCK = join(import.meta.dirname, '..', 'fixtures', 'schemes', 'notifier-takes-iommu-lock.mjs');

interface JsonFinding {
  property: string;
  seq: number;
  message: string;
  scenario?: LockScenario;
  chain?: ChainLink[];
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-finding-'));

/** The lines a report prints under a finding's one-line message (kept as it was), up to the next finding. */
function blockAfter(out: string, header: string): string[] {
  const lines = out.split('\n');
  const i = lines.findIndex((l) => l.startsWith(header));
  expect(i, `no line starting with ${header}`).toBeGreaterThanOrEqual(0);
  const rest = lines.slice(i + 1);
  const end = rest.findIndex((l) => /^(\w+: |violation |properties: |counterexample )/.test(l));
  const block = (end < 0 ? rest : rest.slice(0, end)).filter((l) => !l.startsWith('  schedule: '));
  while (block.at(-1) === '') block.pop();
  return block;
}

/** The cells of the scenario's columns, in order, from a finding's JSON. */
function columns(s: LockScenario): string[][] {
  return s.tasks.map((_, i) => s.rows.map((r) => r[i]!).filter((c) => c !== ''));
}

describe('a LockOrder finding reads as lockdep prints one', () => {
  it("prints the mdev inversion's chain and its scenario with &iommu->lock and &iommu->device_list_lock in two CPU columns", async () => {
    const r = await run('check', '--scenario', 'mdev-unmap-while-pinned');
    expect(r.code).toBe(1);
    const block = blockAfter(r.out, 'LockOrder: lock-order cycle device_list_lock -> iommu.lock -> device_list_lock; ');
    const text = block.join('\n');
    expect(block[0]).toBe('  WARNING: possible circular locking dependency detected');
    expect(text).toContain('  unmap is trying to acquire lock:\n    (&iommu->lock) at unmap_dma.callback (vfio_unpin_pages)\n  but task is already holding lock:\n    (&iommu->device_list_lock)');
    // the first iommu->lock -> device_list_lock lockdep records is the mdev's registration at its
    // first open (vfio_iommu_type1_register_device), as in the kernel
    expect(text).toContain('  -> #1 (&iommu->device_list_lock):\n         record 8 at ioctl VFIO_GROUP_GET_DEVICE_FD\n');
    expect(text).toContain('  -> #0 (&iommu->lock):\n         unmap at unmap_dma.callback (vfio_unpin_pages)');
    expect(text.indexOf('-> #1')).toBeLessThan(text.indexOf('-> #0'));
    expect(text).toContain(
      [
        '   Possible unsafe locking scenario:',
        '',
        '         CPU0                             CPU1',
        '         ----                             ----',
        '    lock(&iommu->device_list_lock);',
        '                                     lock(&iommu->lock);',
        '                                     lock(&iommu->device_list_lock);',
        '    lock(&iommu->lock);',
        '',
        '   *** DEADLOCK ***',
        '',
        '  1 lock held by unmap:',
        '   #0: (&iommu->device_list_lock)',
      ].join('\n'),
    );
    for (const l of block) expect(l.length, l).toBeLessThanOrEqual(WIDTH);
  });

  it('carries the scenario and the chain as structure in --json, beside the unchanged message', async () => {
    const r = await run('check', '--scenario', 'mdev-unmap-while-pinned', '--json');
    const f = (JSON.parse(r.out) as { violations: JsonFinding[] }).violations.find((v) => v.property === 'LockOrder')!;
    expect(f.message).toBe('lock-order cycle device_list_lock -> iommu.lock -> device_list_lock; unmap at unmap_dma.callback (vfio_unpin_pages): device_list_lock -> iommu.lock; @8 at ioctl VFIO_GROUP_GET_DEVICE_FD: group.group_lock -> dev_set.lock -> iommu.lock -> device_list_lock');
    expect(f.scenario!.kind).toBe('lock-order');
    expect(f.scenario!.tasks).toEqual(['CPU0', 'CPU1']);
    expect(columns(f.scenario!)).toEqual([
      ['lock(&iommu->device_list_lock);', 'lock(&iommu->lock);'],
      ['lock(&iommu->lock);', 'lock(&iommu->device_list_lock);'],
    ]);
    expect(f.chain!.map((l) => ({ from: l.from, to: l.to, task: l.task, where: l.where }))).toEqual([
      { from: '&iommu->device_list_lock', to: '&iommu->lock', task: 'unmap', where: 'unmap_dma.callback (vfio_unpin_pages)' },
      { from: '&iommu->lock', to: '&iommu->device_list_lock', task: '@8', where: 'ioctl VFIO_GROUP_GET_DEVICE_FD' },
    ]);
    expect(f.chain![1]!.function).toMatch(/group\.c:vfio_group_fops_unl_ioctl/);
    expect(f.chain![0]!.held).toEqual(['&iommu->device_list_lock']);
  });

  it('replays the counterexample check --out writes to the same scenario, in text and in --json', async () => {
    const out = join(tmp(), 'cx.jsonl');
    const c = await run('check', '--scenario', 'mdev-unmap-while-pinned', '--json', '--out', out);
    const found = (JSON.parse(c.out) as { violations: JsonFinding[] }).violations.find((v) => v.property === 'LockOrder')!;
    const rj = await run('replay', out, '--json');
    expect(rj.code).toBe(1);
    const replayed = (JSON.parse(rj.out) as { violations: JsonFinding[] }).violations.find((v) => v.property === 'LockOrder')!;
    expect(replayed.seq).toBe(found.seq);
    expect(replayed.scenario).toEqual(found.scenario);
    expect(replayed.chain).toEqual(found.chain);
    const text = await run('check', '--scenario', 'mdev-unmap-while-pinned');
    const rt = await run('replay', out);
    expect(blockAfter(rt.out, `violation LockOrder at ${found.seq}: `)).toEqual(blockAfter(text.out, 'LockOrder: '));
  });

  it('names the step of a stimulus without a task as its record, with the kernel function it mirrors', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', TAKES_LOCK);
    const text = blockAfter(r.out, 'LockOrder: ').join('\n');
    expect(text).toContain('  -> #1 (&mm->mmap_lock):\n         record 11 at map_dma.register\n         mm/mmu_notifier.c:mmu_notifier_register');
    expect(text).toContain('    lock(&mm->mmap_lock);\n                                 lock(&iommu->lock);');
    expect(text).toContain('  2 locks held by munmap:\n   #0: (&mm->mmap_lock)\n   #1: (mmu_notifier_invalidate_range_start)');
  });
});

describe('a NoDeadlock finding shows each task holding its locks and what it waits for', () => {
  it('prints the wait-for cycle of mdev-unmap-vs-unmap in the columns of tasks a and b', async () => {
    const r = await run('check', '--scenario', 'mdev-unmap-vs-unmap', '--json');
    const f = (JSON.parse(r.out) as { violations: JsonFinding[] }).violations.find((v) => v.property === 'NoDeadlock')!;
    expect(f.message).toBe('wait-for cycle: a waits for iommu.lock#5 (write), held by b; b waits for device_list_lock#5 (write), held by a');
    expect(f.scenario).toEqual({
      kind: 'wait-for',
      tasks: ['a', 'b'],
      rows: [
        ['lock(&iommu->device_list_lock);', ''],
        ['', 'lock(&iommu->lock);'],
        ['', 'lock(&iommu->device_list_lock);'],
        ['lock(&iommu->lock);', ''],
      ],
    });
    expect(f.chain).toBeUndefined();
  });

  it('reads rlock() for the read side of mmap_lock the MAP_DMA waits for', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', TAKES_LOCK);
    const block = blockAfter(r.out, 'NoDeadlock: ').join('\n');
    expect(block).toContain('   Wait-for cycle reached');
    expect(block).toMatch(/\n {9}map {26,}munmap\n/);
    expect(block).toContain('\n    rlock(&mm->mmap_lock);\n');
    expect(block).toContain('lock(mmu_notifier_invalidate_range_start);');
    expect(block).toContain('   *** DEADLOCK ***');
  });

  it('replays every lock counterexample demo writes to the scenario check reports', async () => {
    const dir = tmp();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await runDemo({ stdout: () => undefined, stderr: () => undefined, isTTY: false }, { json: true }, { schemes: [upstream], scenarios: ['mdev-unmap-vs-unmap', 'hot-remove-vs-sysfs'] });
    } finally {
      process.chdir(cwd);
    }
    const files = readdirSync(join(dir, 'iommu-model-out')).filter((f) => /--(LockOrder|NoDeadlock)\.jsonl$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const [scenario, , property] = file.replace(/\.jsonl$/, '').split('--');
      const checked = (JSON.parse((await run('check', '--scenario', scenario!, '--json')).out) as { violations: JsonFinding[] }).violations.find((v) => v.property === property)!;
      const replayed = (JSON.parse((await run('replay', join(dir, 'iommu-model-out', file), '--json')).out) as { violations: JsonFinding[] }).violations.find((v) => v.property === property)!;
      expect(replayed.scenario, file).toEqual(checked.scenario);
      expect(replayed.scenario, file).toBeDefined();
    }
  });
});

describe('the scenario fits 100 columns', () => {
  const long = 'lock(mmu_notifier_invalidate_range_start);';
  const wait = 'wait(the last registration reference of 0000:01:00.0 (vfio_unregister_group_dev));';
  const cellsOf = (lines: string[]): string => lines.join('').replace(/\s+/g, '');

  it('wraps a cell that is too long inside its column and loses none of it', () => {
    const s: LockScenario = { kind: 'stuck', tasks: ['pciehp', 'exit', 'CPU2'], rows: [[wait, '', ''], ['', long, ''], ['', '', long], ['', '', wait]] };
    const lines = scenarioLines(s);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(WIDTH);
    const squeezed = cellsOf(lines);
    for (const c of [wait, long]) expect(squeezed).toContain(c.replace(/\s+/g, '').slice(0, 20));
    expect(squeezed).toContain('(vfio_unregister_group_dev));');
    expect(lines.at(-1)).toBe('   *** DEADLOCK ***');
  });

  it('prints one row per line when the columns cannot fit side by side', () => {
    const tasks = ['CPU0', 'CPU1', 'CPU2', 'CPU3', 'CPU4', 'CPU5'];
    const s: LockScenario = { kind: 'lock-order', tasks, rows: tasks.map((_, i) => tasks.map((__, j) => (i === j ? long : ''))) };
    const lines = scenarioLines(s);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(WIDTH);
    expect(lines).toContain(`    CPU3: ${long}`);
  });

  it('wraps the kernel function of a chain entry', () => {
    const fn = "drivers/vfio/vfio_iommu_type1.c:vfio_notify_dma_unmap (each device's ops->dma_unmap), mutex_unlock(device_list_lock)";
    const lines = detailLines({ chain: [{ from: 'A', to: 'B', task: 't', where: 'w', function: fn, held: ['A'] }, { from: 'B', to: 'A', task: 't', where: 'v', held: ['B'] }] });
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(WIDTH);
    expect(cellsOf(lines)).toContain(fn.replace(/\s+/g, ''));
  });

  it('keeps every line of every finding block of the built-in lock scenarios within 100 columns', async () => {
    for (const [scenario, scheme] of [['mdev-unmap-vs-unmap', 'upstream'], ['hot-remove-vs-sysfs', 'upstream'], ['map-vs-munmap', TAKES_LOCK], ['reclaim-vs-map', join(import.meta.dirname, '..', 'fixtures', 'schemes', 'notifier-allocates.mjs')]] as const) {
      const r = await run('check', '--scenario', scenario, '--scheme', scheme);
      expect(r.code, scenario).toBe(1);
      for (const p of ['LockOrder: ', 'NoDeadlock: ']) if (r.out.includes(`\n${p}`)) for (const l of blockAfter(r.out, p)) expect(l.length, `${scenario}: ${l}`).toBeLessThanOrEqual(WIDTH);
    }
  });
});

describe('replay --trace', () => {
  it("prints every record's outcome on one line, errno included without an expect, with its derived records below", async () => {
    const file = join(tmp(), 'log.jsonl');
    const lines = [
      { format: 'iommu-model/1' },
      { op: 'process.spawn', pid: 1 },
      { op: 'open', pid: 1, path: '/dev/vfio/vfio' },
      { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
      { op: 'mmap', pid: 1, length: '0x1000' },
      { op: 'touch', pid: 1, addr: '0x7f0000000000', write: true },
    ];
    writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const r = await run('replay', file, '--trace');
    expect(r.code).toBe(0);
    const out = r.out.split('\n');
    expect(out[0]).toBe('2 process.spawn pid=1 -> ret 0');
    expect(out).toContain('3 open pid=1 path=/dev/vfio/vfio -> ret 3');
    expect(out[2]).toMatch(/^ {2}3\.1 file\.opened pid=1 fd=3 file=container#\d+$/);
    expect(out.find((l) => l.startsWith('4 ioctl pid=1 fd=3 cmd=VFIO_SET_IOMMU arg=VFIO_TYPE1v2_IOMMU -> errno '))).toMatch(/ \(decided by container\.c:/);
    expect(out).toContain('5 mmap pid=1 length=0x1000 -> ret 0x7f0000000000');
    expect(out.some((l) => l.startsWith('6 touch '))).toBe(true);
    // the report follows the trace
    expect(r.out).toContain(`${file}: 5 records`);
  });

  it("shows a task's stimulus as queued and its outcome on the step its path returns with", async () => {
    const r = await run('replay', join(import.meta.dirname, '..', '..', 'src', 'scenarios', 'mdev-unmap-while-pinned.jsonl'), '--trace');
    const out = r.out.split('\n');
    expect(out.find((l) => l.startsWith('12 ioctl '))).toMatch(/ task=unmap -> queued on task unmap$/);
    expect(out).toContain('17 step unmap (unmap_dma.notify)');
    expect(out).toContain('19 step unmap (unmap_dma.lock) -> 12 ioctl returned: ret 0, out {"size":"0x200000"}');
    expect(out.find((l) => l.startsWith('20 step vendor (atomic.run) -> 13 mdev.pin_pages returned: errno EINVAL (decided by '))).toBeDefined();
    expect(out).toContain('  15.1 task.started task=unmap seq=12 stimulus=ioctl path=unmap_dma');
    expect(out.find((l) => l.startsWith('  ! LockOrder: lock-order cycle '))).toBeDefined();
  });

  it('gives each record its outcome and derived records in --json', async () => {
    const r = await run('replay', join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl'), '--trace', '--json');
    const doc = JSON.parse(r.out) as { trace: Array<{ seq: number; op: string; outcome?: Record<string, unknown>; derived: unknown[] }>; violations: unknown[] };
    expect(doc.violations).toEqual([]);
    expect(doc.trace).toHaveLength(11);
    expect(doc.trace.find((t) => t.seq === 10)).toMatchObject({ op: 'device.dma', outcome: { dma: 'ok' } });
    expect(doc.trace.find((t) => t.seq === 11)!.derived.length).toBeGreaterThan(5);
  });
});

describe('a search cut off is not "holds"', () => {
  it('check exits 4 and says not exhausted when --max-states stops it before any violation', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5');
    expect(r.code).toBe(4);
    expect(r.out).toContain('not exhausted: 5 states');
    expect(r.out).not.toMatch(/ holds$/m);
    const j = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--json');
    expect(j.code).toBe(4);
    expect((JSON.parse(j.out) as { exhausted: boolean }).exhausted).toBe(false);
  });

  it('check still exits 1 for a violation found before the cut', async () => {
    const r = await run('check', '--scenario', 'mdev-unmap-vs-unmap', '--max-states', '25', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { exhausted: boolean; properties: Record<string, string> };
    expect(doc.exhausted).toBe(false);
    expect(doc.properties['NoDeadlock']).toBe('violated');
    expect(doc.properties['NoOverlap']).toBe('not violated so far');
  });

  it('demo shows a cut-off cell as unknown (cut off), a mismatch with holds', async () => {
    const dir = tmp();
    const cwd = process.cwd();
    process.chdir(dir);
    let out = '';
    let json = '';
    let code: number;
    let jcode: number;
    try {
      const cat = { schemes: [upstream], scenarios: ['map-vs-munmap'], maxStates: 5 };
      code = await runDemo({ stdout: (s) => (out += s), stderr: () => undefined, isTTY: false }, {}, cat);
      jcode = await runDemo({ stdout: (s) => (json += s), stderr: () => undefined, isTTY: false }, { json: true }, cat);
    } finally {
      process.chdir(cwd);
    }
    expect(code).toBe(1);
    expect(jcode).toBe(1);
    expect(out).toContain('unknown (cut off) !');
    expect(out).toContain('FAIL scheme upstream, scenario map-vs-munmap, property NoDeadlock: expected holds, got unknown');
    expect(out).toContain('(search cut at 5 states)');
    const doc = JSON.parse(json) as { maxStates: number; verdicts: Array<{ property: string; verdict: string; match: boolean }> };
    expect(doc.maxStates).toBe(5);
    expect(doc.verdicts.find((v) => v.property === 'NoDeadlock')).toMatchObject({ verdict: 'unknown', match: false });
  });
});
