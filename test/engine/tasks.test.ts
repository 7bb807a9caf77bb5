/**
 * Tasks (docs/concurrency.md): a scenario replayed as a plain log runs its default schedule; explicit step
 * records must name a task that can run; a stimulus without a task must not block.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasWork } from '../../src/run/engine.js';
import { inputError } from './helpers.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems, type StepRecord } from '../../src/run/replay.js';

const SCENARIO_FILE = join(import.meta.dirname, '..', '..', 'src', 'scenarios', 'map-vs-munmap.jsonl');
const SCENARIO = readFileSync(SCENARIO_FILE, 'utf8').trimEnd();
/** Records of the scenario: the map task's MAP_DMA is record 12, the munmap task's munmap record 13. */
const MAP_SEQ = 12;
const MUNMAP_SEQ = 13;
const SCENARIO_LINES = SCENARIO.split('\n').length;

const step = (task: string): string => JSON.stringify({ op: 'step', task });

/** The scenario followed by `extra` records (each numbered by its line). */
function withExtra(extra: readonly string[]): string {
  return [SCENARIO, ...extra].join('\n');
}

function replayText(text: string, onStep?: (r: StepRecord) => void) {
  const { header, items } = parseLog(text, 'tasks.jsonl');
  return replayItems(header, items, 'tasks.jsonl', onStep);
}

describe('a scenario replayed as a plain log', () => {
  it('runs the default schedule under upstream with no divergence and no violation', () => {
    const { report, world } = replayText(SCENARIO);
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect([...world.tasks.values()].some(hasWork)).toBe(false);
  });

  it('runs each task to completion in the order the tasks first appear', () => {
    const steps: StepRecord[] = [];
    replayText(SCENARIO, (r) => steps.push(r));
    // After the prologue: the two task records are queued (no outcome yet), then the default schedule.
    const taskSteps = steps.filter((r) => r.stimulus.task !== undefined);
    expect(taskSteps.slice(0, 2).map((r) => [r.stimulus.seq, r.outcome])).toEqual([
      [MAP_SEQ, null],
      [MUNMAP_SEQ, null],
    ]);
    // The default schedule is written as step records after the log's last record.
    const stepRecords = steps.filter((r) => r.stimulus.op === 'step');
    const schedule = stepRecords.map((r) => r.stimulus.task);
    const firstMunmap = schedule.indexOf('munmap');
    expect(firstMunmap).toBeGreaterThan(0);
    expect(schedule.slice(0, firstMunmap).every((t) => t === 'map')).toBe(true);
    expect(schedule.slice(firstMunmap).every((t) => t === 'munmap')).toBe(true);
    expect(stepRecords.map((r) => r.stimulus.seq)).toEqual(stepRecords.map((_, i) => MUNMAP_SEQ + 1 + i));
    // map returned (with its MAP_DMA's ret 0) before munmap took its first step.
    const returned = stepRecords.filter((r) => r.outcome !== null);
    expect(returned.map((r) => [r.stimulus.task, r.outcome!.ret])).toEqual([
      ['map', 0n],
      ['munmap', 0n],
    ]);
    expect(stepRecords[firstMunmap - 1]!.outcome).not.toBeNull();
  });
});

describe('explicit step records', () => {
  it('replay a schedule that interleaves the tasks cleanly', () => {
    const { report, world } = replayText(withExtra([step('munmap'), step('munmap'), ...Array<string>(5).fill(step('map'))]));
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
    expect([...world.tasks.values()].some(hasWork)).toBe(false);
  });

  it('treat stepping a blocked task as bad input naming the step record and field task', () => {
    // map holds iommu.lock and pins; munmap takes mmap_lock for write; map then needs mmap_lock.
    const extra = [step('map'), step('map'), step('map'), step('munmap'), step('map')];
    const e = inputError(() => replayText(withExtra(extra)));
    expect(e.line).toBe(SCENARIO_LINES + extra.length);
    expect(e.field).toBe('task');
    expect(e.detail).toContain('blocked on');
    expect(e.detail).toContain('mmap_lock');
    expect(e.detail).toContain('held by munmap');
  });

  it('treat stepping a task with nothing left to run as bad input', () => {
    const extra = [step('munmap'), step('munmap'), step('munmap')];
    const e = inputError(() => replayText(withExtra(extra)));
    expect(e.line).toBe(SCENARIO_LINES + 3);
    expect(e.field).toBe('task');
    expect(e.detail).toContain('nothing to run');
  });
});

describe('a stimulus without a task', () => {
  it('is bad input when it would block on mmap_lock held by a task in flight', () => {
    const munmapA = JSON.stringify({ op: 'munmap', pid: 1, addr: '0x7f0000000000', length: '0x1000' });
    const extra = [step('map'), step('map'), step('map'), step('munmap'), munmapA];
    const e = inputError(() => replayText(withExtra(extra)));
    expect(e.line).toBe(SCENARIO_LINES + extra.length);
    expect(e.field).toBe('op');
    expect(e.detail).toContain('would block on');
    expect(e.detail).toContain('give it a "task"');
  });

  it('is bad input when it would block on iommu.lock held by a task in flight', () => {
    // After two steps the map task holds iommu.lock while it pins; a second MAP_DMA needs it first.
    const map2 = JSON.stringify({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ'], vaddr: '0x7f0000000000', iova: '0x800000', size: '0x1000' } });
    const extra = [step('map'), step('map'), map2];
    const e = inputError(() => replayText(withExtra(extra)));
    expect(e.line).toBe(SCENARIO_LINES + extra.length);
    expect(e.field).toBe('op');
    expect(e.detail).toContain('iommu.lock');
    expect(e.detail).toContain('held by map');
    expect(e.detail).toContain('give it a "task"');
  });

  it('runs at once when no task in flight holds what it needs', () => {
    const unmap = JSON.stringify({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: '0x400000', size: '0x200000' }, expect: { ret: 0, out: { size: '0x200000' } } });
    const { report } = replayText(withExtra([step('munmap'), step('munmap'), unmap, ...Array<string>(5).fill(step('map'))]));
    expect(report.divergences).toEqual([]);
    expect(report.violations).toEqual([]);
  });
});
