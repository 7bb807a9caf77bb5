import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { counterexampleLines } from '../../src/run/counterexample.js';
import { explore, scenarioOf, type ExploreReport, type Finding, type Scenario } from '../../src/run/explore.js';
import { InputError } from '../../src/vocab/errors.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems } from '../../src/run/replay.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIO_FILE = join(ROOT, 'src', 'scenarios', 'map-vs-munmap.jsonl');
const SCHEMES = join(ROOT, 'test', 'fixtures', 'schemes');
const MAX = 200_000;

function loadScenario(): Scenario {
  const { header, items } = parseLog(readFileSync(SCENARIO_FILE, 'utf8'), SCENARIO_FILE);
  return scenarioOf(header, items, SCENARIO_FILE);
}

async function loadSchemeModule(name: string): Promise<Scheme> {
  // A computed URL: the module is loaded at run time like the CLI does, not type-checked.
  const url = pathToFileURL(join(SCHEMES, `${name}.mjs`)).href;
  const mod = (await import(url)) as { default: Scheme };
  return defineScheme(mod.default);
}

function upstream(): Scheme {
  const s = builtinScheme('upstream');
  if (s === undefined) throw new Error('no built-in upstream scheme');
  return s;
}

function finding(r: ExploreReport, property: string): Finding {
  const f = r.findings.find((x) => x.property === property);
  if (f === undefined) throw new Error(`no ${property} finding; findings: ${r.findings.map((x) => x.property).join(', ') || 'none'}`);
  return f;
}

/** Replays the finding's counterexample log under the scheme; returns the violations of `property`. */
function replayCounterexample(sc: Scenario, scheme: Scheme, f: Finding, property: string): { seqs: number[]; divergences: number } {
  const text = counterexampleLines(sc, scheme, f).join('\n');
  const { header, items } = parseLog(text, '<counterexample>');
  const { report } = replayItems(header, items, '<counterexample>', undefined, scheme);
  return { seqs: report.violations.filter((v) => v.property === property).map((v) => v.seq), divergences: report.divergences.length };
}

/** The lock classes of a LockOrder message: "lock-order cycle A -> B -> A; ...". */
function cycleClasses(message: string): string[] {
  const m = /^lock-order cycle ([^;]+);/.exec(message);
  if (m === null) throw new Error(`not a lock-order cycle message: ${message}`);
  return m[1]!.split(' -> ');
}

describe('exploring map-vs-munmap', () => {
  let sc: Scenario;
  let takesLock: Scheme;
  let allocates: Scheme;

  beforeAll(async () => {
    sc = loadScenario();
    takesLock = await loadSchemeModule('notifier-takes-iommu-lock');
    allocates = await loadSchemeModule('notifier-allocates');
  });

  it('splits the scenario into a prologue and the records of two tasks', () => {
    expect(sc.taskRecords.map((s) => s.task)).toEqual(['map', 'munmap']);
    expect(sc.prologue.every((s) => s.task === undefined)).toBe(true);
  });

  it('under upstream explores every schedule and finds nothing', () => {
    const r = explore(sc, upstream(), { maxStates: MAX });
    expect(r.exhausted).toBe(true);
    expect(r.findings).toEqual([]);
    expect(r.tasks).toEqual(['map', 'munmap']);
    expect(r.terminalStates).toBeGreaterThan(0);
  });

  describe('when the notifier callback takes iommu->lock', () => {
    let r: ExploreReport;
    beforeAll(() => {
      r = explore(sc, takesLock, { maxStates: MAX });
    });

    it('explores every schedule', () => {
      expect(r.exhausted).toBe(true);
    });

    it('finds a deadlock: a wait-for cycle between the two tasks over mmap_lock and iommu.lock', () => {
      const f = finding(r, 'NoDeadlock');
      expect(f.message).toMatch(/^wait-for cycle: /);
      expect(f.message).toMatch(/map waits for mmap_lock\S* \([a-z]+\), held by munmap/);
      expect(f.message).toMatch(/munmap waits for iommu\.lock\S* \([a-z]+\), held by map/);
    });

    it('gives the deadlock its shortest schedule: three steps involving both tasks', () => {
      const f = finding(r, 'NoDeadlock');
      expect(f.schedule).toHaveLength(3);
      expect(new Set(f.schedule)).toEqual(new Set(['map', 'munmap']));
      const lastSeq = Math.max(...[...sc.prologue, ...sc.taskRecords].map((s) => s.seq));
      expect(f.seq).toBe(lastSeq + 3);
    });

    it('finds a lock-order cycle through iommu.lock and mmap_lock', () => {
      const f = finding(r, 'LockOrder');
      const classes = cycleClasses(f.message);
      expect(classes).toContain('iommu.lock');
      expect(classes).toContain('mmap_lock');
      expect(classes[0]).toBe(classes[classes.length - 1]);
    });

    it('writes a deadlock counterexample that replays to NoDeadlock at exactly the finding seq', () => {
      const f = finding(r, 'NoDeadlock');
      const rep = replayCounterexample(sc, takesLock, f, 'NoDeadlock');
      expect(rep.seqs).toEqual([f.seq]);
      expect(rep.divergences).toBe(0);
    });

    it('writes a lock-order counterexample that replays to LockOrder at the finding seq', () => {
      const f = finding(r, 'LockOrder');
      const rep = replayCounterexample(sc, takesLock, f, 'LockOrder');
      // One step may close more than one cycle; every report is at the finding's record.
      expect(rep.seqs.length).toBeGreaterThan(0);
      expect(new Set(rep.seqs)).toEqual(new Set([f.seq]));
    });
  });

  describe('when the notifier callback allocates with GFP_KERNEL', () => {
    let r: ExploreReport;
    beforeAll(() => {
      r = explore(sc, allocates, { maxStates: MAX });
    });

    it('finds a lock-order cycle through fs_reclaim and the invalidate pseudo-lock, and no deadlock', () => {
      expect(r.exhausted).toBe(true);
      const f = finding(r, 'LockOrder');
      expect(f.message).toContain('fs_reclaim');
      expect(f.message).toContain('mmu_notifier_invalidate_range_start');
      const classes = cycleClasses(f.message);
      expect(classes).toContain('fs_reclaim');
      expect(classes).toContain('mmu_notifier_invalidate_range_start');
      expect(r.findings.map((x) => x.property)).not.toContain('NoDeadlock');
    });

    it('writes a lock-order counterexample that replays to LockOrder at the same seq', () => {
      const f = finding(r, 'LockOrder');
      const rep = replayCounterexample(sc, allocates, f, 'LockOrder');
      // One step may close more than one cycle; every report is at the finding's record.
      expect(rep.seqs.length).toBeGreaterThan(0);
      expect(new Set(rep.seqs)).toEqual(new Set([f.seq]));
      expect(rep.divergences).toBe(0);
    });
  });

  it('stops short of exhausting the state space when maxStates is 5', () => {
    const r = explore(sc, takesLock, { maxStates: 5 });
    expect(r.exhausted).toBe(false);
    expect(r.statesGenerated).toBeLessThanOrEqual(5);
  });

  it('reports identically when the same scenario is explored twice', () => {
    for (const scheme of [upstream(), takesLock, allocates]) {
      const a = explore(loadScenario(), scheme, { maxStates: MAX });
      const b = explore(loadScenario(), scheme, { maxStates: MAX });
      expect(b).toEqual(a);
    }
  });

  it('rejects a log with step records as a scenario, naming the line and the field op', () => {
    const text = `${readFileSync(SCENARIO_FILE, 'utf8').trimEnd()}\n{"op":"step","task":"map"}\n`;
    const { header, items } = parseLog(text, 'with-steps.jsonl');
    const stepLine = text.trimEnd().split('\n').length;
    let caught: unknown;
    try {
      scenarioOf(header, items, 'with-steps.jsonl');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    const e = caught as InputError;
    expect(e.file).toBe('with-steps.jsonl');
    expect(e.line).toBe(stepLine);
    expect(e.field).toBe('op');
    expect(e.message).toContain(`with-steps.jsonl:${stepLine}: field 'op'`);
  });
});
