/**
 * `check` of a scenario whose tasks take their error path (docs/concurrency.md): sva-bind-pasid-exhausted,
 * where the second of two binds to a device with one PASID gets ENOSPC. The explorer ends such a
 * task, the verdicts are the ones the schemes document, and every counterexample replays to the
 * same violation at the same record, taking the same error paths.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { counterexampleLines } from '../../src/run/counterexample.js';
import { explore, scenarioOf, type Finding, type Scenario } from '../../src/run/explore.js';
import { InputError } from '../../src/vocab/errors.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems, type StepRecord } from '../../src/run/replay.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import type { Scheme } from '../../src/schemes/scheme.js';
import { run } from '../cli-run.js';

const FILE = join(import.meta.dirname, '..', '..', 'src', 'scenarios', 'sva-bind-pasid-exhausted.jsonl');
const MAX = 200_000;

function scenario(text = readFileSync(FILE, 'utf8'), file = FILE): Scenario {
  const { header, items } = parseLog(text, file);
  return scenarioOf(header, items, file);
}

function scheme(name: string): Scheme {
  const s = builtinScheme(name);
  if (s === undefined) throw new Error(`no built-in scheme ${name}`);
  return s;
}

/** Replays a finding's counterexample log; returns its violations and every derived record. */
function replayFinding(sc: Scenario, s: Scheme, f: Finding) {
  const { header, items } = parseLog(counterexampleLines(sc, s, f).join('\n'), '<counterexample>');
  const steps: StepRecord[] = [];
  const { report } = replayItems(header, items, '<counterexample>', (r) => steps.push(r), s);
  return { report, derived: steps.flatMap((r) => r.derived) };
}

describe('sva-bind-pasid-exhausted under check', () => {
  it('explores to completion under upstream with nothing violated: the failed bind ends its task', () => {
    const r = explore(scenario(), scheme('upstream'), { maxStates: MAX });
    expect(r.exhausted).toBe(true);
    expect(r.findings).toEqual([]);
    // a's bind fails, b's does, or both succeed: each ends with every process gone and the PASID
    // free, one kernel state (which task took its error path is not kernel state)
    expect(r.terminalStates).toBe(1);
  });

  it('finds exactly what every built-in scheme that runs it documents', () => {
    for (const name of ['upstream', 'pasid-free-at-unbind', 'pasid-free-at-mmput', 'svm-bind-task-rfc', 'bar-notifier-naive']) {
      const s = scheme(name);
      const r = explore(scenario(), s, { maxStates: MAX });
      expect(r.exhausted, name).toBe(true);
      expect(r.findings.map((f) => f.property).sort(), name).toEqual([...(s.expect['sva-bind-pasid-exhausted'] ?? [])].sort());
    }
  });

  it('under pasid-free-at-mmput writes a PasidNotReusedWhileLive counterexample that replays to it at the same record', () => {
    const sc = scenario();
    const s = scheme('pasid-free-at-mmput');
    const f = explore(sc, s, { maxStates: MAX }).findings.find((x) => x.property === 'PasidNotReusedWhileLive')!;
    expect(f.schedule).toEqual(['a', 'exit1', 'exit1', 'b']);
    const { report } = replayFinding(sc, s, f);
    expect(report.divergences).toEqual([]);
    expect(report.violations.map((v) => [v.property, v.seq])).toEqual([['PasidNotReusedWhileLive', f.seq]]);
  });

  it('under svm-bind-task-rfc writes a TeardownCompletes counterexample whose replay takes both error paths and reports it at the same record', () => {
    const sc = scenario();
    const s = scheme('svm-bind-task-rfc');
    const f = explore(sc, s, { maxStates: MAX }).findings.find((x) => x.property === 'TeardownCompletes')!;
    // Each driver task takes one step (its bind fails) and is never stepped again.
    expect(f.schedule.filter((t) => t === 'a' || t === 'b')).toEqual(['a', 'b']);
    const { report, derived } = replayFinding(sc, s, f);
    expect(report.violations.map((v) => [v.property, v.seq])).toEqual([['TeardownCompletes', f.seq]]);
    expect(derived.filter((d) => d.op === 'task.error_path').map((d) => [d['task'], d['seq'], d['errno'], d['skipped']])).toEqual([
      ['a', 12, 'ENOSPC', [13, 14, 15]],
      ['b', 16, 'ENOSPC', [17, 18, 19]],
    ]);
  });

  it('still rejects a task record that names a missing object when its task did not fail, naming line and field', () => {
    // Task u's unbind may run before task v's bind made the bond: u did not fail, so that is bad input.
    const lines = readFileSync(FILE, 'utf8').trim().split('\n').slice(0, 11);
    lines.push(JSON.stringify({ op: 'sva.bind', device: '0000:04:00.0', pid: 1, task: 'v' }));
    lines.push(JSON.stringify({ op: 'sva.unbind', device: '0000:04:00.0', pid: 1, task: 'u' }));
    let caught: unknown;
    try {
      explore(scenario(lines.join('\n'), 'unbind-first.jsonl'), scheme('upstream'), { maxStates: MAX });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect([(caught as InputError).line, (caught as InputError).field]).toEqual([13, 'device']);
    expect((caught as InputError).detail).toContain('no SVA bond');
  });
});

describe('the CLI on error paths', () => {
  it('check exits with the documented verdicts instead of 2', async () => {
    expect((await run('check', '--scenario', 'sva-bind-pasid-exhausted')).code).toBe(0);
    const r = await run('check', '--scenario', 'sva-bind-pasid-exhausted', '--scheme', 'pasid-free-at-mmput');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/PasidNotReusedWhileLive\s+VIOLATED/);
    expect(r.err).toBe('');
  });

  it('replay exits 2 on an on_error value it does not know, naming the line and the field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'iommu-model-onerror-')), 'log.jsonl');
    writeFileSync(file, `{"format":"iommu-model/1"}\n{"op":"process.spawn","pid":1}\n{"op":"exit","pid":1,"task":"t","on_error":"retry"}\n`);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:3: field 'on_error': expected one of "stop", "continue", got "retry"`);
  });
});
