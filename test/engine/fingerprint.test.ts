/**
 * The world fingerprint is of kernel state alone (src/core/fingerprint.ts): a scenario and its
 * recording end on the same fingerprint, and so do two logs that differ only in their records'
 * lines, comments and expectations; what the kernel does with a record still counts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinScenarios, scenarioFile } from '../../src/cli/resolve.js';
import { fingerprint } from '../../src/core/fingerprint.js';
import { parseLog } from '../../src/log/reader.js';
import { recordLines, replayItems } from '../../src/run/replay.js';

function replayText(text: string, file: string): { fingerprint: string; inFlight: number; recording: string[] } {
  const { header, items } = parseLog(text, file);
  const recording = [JSON.stringify(header)];
  const { report, world } = replayItems(header, items, file, (step) => recording.push(...recordLines(step)));
  const inFlight = [...world.tasks.values()].filter((t) => t.current !== null || t.queue.length > 0).length;
  expect(report.fingerprint).toBe(fingerprint(world));
  return { fingerprint: report.fingerprint, inFlight, recording };
}

/** The scenario's lines, each record passed through `edit` (the header is line 0). */
function edited(name: string, edit: (rec: Record<string, unknown>, i: number) => Record<string, unknown>): string {
  const lines = readFileSync(scenarioFile(name), 'utf8').split('\n').filter((l) => l.trim() !== '');
  return lines.map((l, i) => (i === 0 ? l : JSON.stringify(edit(JSON.parse(l) as Record<string, unknown>, i)))).join('\n');
}

// hot-remove-vs-sysfs ends with tasks in flight (the unbind waits for the device fd the
// blocked sysfs read keeps): their records are part of the world at the end.
const IN_FLIGHT = 'hot-remove-vs-sysfs';

describe('the world fingerprint', () => {
  it.each(builtinScenarios())('%s and its recording (replay --record) end on the same fingerprint', (name) => {
    const file = scenarioFile(name);
    const scenario = replayText(readFileSync(file, 'utf8'), file);
    const recorded = replayText(scenario.recording.join('\n'), `${file} (recording)`);
    expect(recorded.fingerprint).toBe(scenario.fingerprint);
  });

  it(`${IN_FLIGHT} ends with tasks in flight, so the recording test above compares their records`, () => {
    const file = scenarioFile(IN_FLIGHT);
    expect(replayText(readFileSync(file, 'utf8'), file).inFlight).toBeGreaterThan(0);
  });

  it('is the same for two logs that differ only in lines, comments and expectations', () => {
    const plain = edited(IN_FLIGHT, (r) => r);
    // blank lines move every record (and its default seq, its line number) down; comments and
    // expectations change or go
    const moved = edited(IN_FLIGHT, (r, i) => {
      const { comment: _c, expect: _e, ...rest } = r;
      return i % 2 === 0 ? { ...rest, comment: `record ${i}, moved` } : { ...rest, expect: { errno: 'EIO' } };
    }).replace(/\n/g, '\n\n');
    const a = replayText(plain, 'plain.jsonl');
    const b = replayText(moved, 'moved.jsonl');
    expect(b.inFlight).toBe(a.inFlight);
    expect(b.fingerprint).toBe(a.fingerprint);
  });

  it('still tells apart logs whose records ask the kernel for different things', () => {
    const a = replayText(edited(IN_FLIGHT, (r) => r), 'a.jsonl');
    const b = replayText(edited(IN_FLIGHT, (r) => (r['attr'] === 'sriov_numvfs' ? { ...r, attr: 'driver_override' } : r)), 'b.jsonl');
    expect(b.fingerprint).not.toBe(a.fingerprint);
  });
});
