import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROPERTY_NAMES, type PropertyName } from '../../src/vocab/properties.js';
import { applicableProperties, compareVerdicts, expectedViolations, setupFailure, verdictsOf, type Verdict } from '../../src/run/verdicts.js';
import { runDemo } from '../../src/cli/commands/demo.js';
import { main } from '../../src/cli/main.js';
import { builtinScenarios, scenarioFile } from '../../src/cli/resolve.js';
import type { ExploreReport } from '../../src/run/explore.js';
import type { Header } from '../../src/vocab/records.js';
import { defineScheme, upstream } from '../../src/schemes/scheme.js';
import { builtinScheme, builtinSchemes } from '../../src/schemes/catalogue.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems } from '../../src/run/replay.js';

interface DemoJson {
  ok: boolean;
  kernel: string;
  verdicts: Array<{ scenario: string; scheme: string; property: string; verdict: string; expected: string; match: boolean; steps?: number; counterexample?: string; replay?: string }>;
  counterexamples: string[];
  mismatches: Array<{ scenario: string; scheme: string; property: string; expected: string; got: string }>;
}

function capture(): { io: { stdout(s: string): void; stderr(s: string): void; isTTY: boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false }, out: () => out, err: () => err };
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

function report(findings: ExploreReport['findings'], exhausted = true): ExploreReport {
  return { scheme: 'upstream', kernel: '6.18', tasks: [], statesGenerated: 1, distinctStates: 1, depth: 0, terminalStates: 1, exhausted, lockEdges: 0, findings };
}

describe('iommu-model demo (in a temporary working directory)', () => {
  const cwd = process.cwd();
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iommu-model-demo-'));
    process.chdir(dir);
  });
  afterEach(() => {
    process.chdir(cwd);
  });

  it('reports every verdict with --json and writes each counterexample, which replays to its violation', async () => {
    const r = await run('demo', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as DemoJson;
    expect(doc.ok).toBe(true);
    expect(doc.kernel).toBe('6.18');
    expect(doc.mismatches).toEqual([]);
    expect(doc.verdicts).toHaveLength(builtinScenarios().length * builtinSchemes().length * PROPERTY_NAMES.length);
    for (const v of doc.verdicts) expect(v.match).toBe(true);
    const violated = doc.verdicts.filter((v) => v.verdict === 'violated');
    expect(doc.counterexamples).toEqual(violated.map((v) => v.counterexample));
    expect(readdirSync(join(dir, 'iommu-model-out')).sort()).toEqual(violated.map((v) => `${v.scenario}--${v.scheme}--${v.property}.jsonl`).sort());
    for (const v of violated) {
      expect(v.replay).toBe(`npx iommu-model replay iommu-model-out/${v.scenario}--${v.scheme}--${v.property}.jsonl`);
      const rep = await run('replay', v.counterexample!, '--scheme', v.scheme, '--json');
      expect(rep.code).toBe(1);
      const props = (JSON.parse(rep.out) as { violations: Array<{ property: string }> }).violations.map((x) => x.property);
      expect(props).toContain(v.property);
    }
  });

  it('prints one table per scenario with the replay command of each counterexample', async () => {
    const r = await run('demo');
    expect(r.code).toBe(0);
    for (const s of builtinScenarios()) expect(r.out).toContain(`\n${s}`);
    for (const f of readdirSync(join(dir, 'iommu-model-out'))) expect(r.out).toMatch(new RegExp(`npx iommu-model replay iommu-model-out/${f.replace(/\./g, '\\.')}\n`));
    expect(r.out).toContain('legend: ');
  });

  it('prints Markdown tables with --markdown', async () => {
    const r = await run('demo', '--markdown');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`### ${builtinScenarios()[0]}`);
    expect(r.out).toContain('| scheme |');
    expect(r.out).not.toContain('golden logs');
    // docs/schemes.md carries these tables as generated: a change to a verdict updates the doc
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'schemes.md'), 'utf8');
    const start = doc.indexOf('-->\n') + 4;
    const section = doc.slice(start, doc.indexOf('<!-- end of generated tables -->'));
    expect(section.trim()).toBe(r.out.trim());
  });

  it('exits 1 with a FAIL line when a scheme documents a wrong expectation', async () => {
    const scenario = 'zap-vs-p2p-map';
    const first = capture();
    expect(await runDemo(first.io, { json: true }, { schemes: [upstream], scenarios: [scenario] })).toBe(0);
    const got = (JSON.parse(first.out()) as DemoJson).verdicts;
    // Document the opposite of the first applicable verdict.
    const flip = got.find((v) => v.verdict !== 'n/a')!;
    const violated = got.filter((v) => v.verdict === 'violated').map((v) => v.property);
    const wrongList = flip.verdict === 'violated' ? violated.filter((p) => p !== flip.property) : [...violated, flip.property];
    const wrong = defineScheme({ name: 'wrong', summary: 'upstream with a wrong expectation', source: 'test', expect: { [scenario]: wrongList as PropertyName[] } });
    const c = capture();
    expect(await runDemo(c.io, {}, { schemes: [wrong], scenarios: [scenario] })).toBe(1);
    expect(c.out()).toContain(`FAIL scheme wrong, scenario ${scenario}, property ${flip.property}: expected ${flip.verdict === 'violated' ? 'holds' : 'violated'}, got ${flip.verdict}`);
    expect(c.out()).toContain('some verdicts do not match');
  });
});

describe('demo verdicts', () => {
  const header = (h: Partial<Header>): Header => ({ format: 'iommu-model/1', scheme: 'upstream', ...h });

  it('treats the properties a scenario does not exercise as not applicable', () => {
    const h = header({ exercises: ['NoDeadlock', 'LockOrder'] });
    expect(applicableProperties(h)).toEqual(['NoDeadlock', 'LockOrder']);
    expect(applicableProperties(header({}))).toEqual(PROPERTY_NAMES);
    const vs = verdictsOf('s', h, upstream, report([{ property: 'LockOrder', message: 'm', schedule: ['a', 'b'], seq: 9 }, { property: 'NoOverlap', message: 'm', schedule: [], seq: 3 }]));
    const by = new Map(vs.map((v) => [v.property, v]));
    expect(by.get('LockOrder')).toMatchObject({ got: 'violated', steps: 2, seq: 9 });
    expect(by.get('NoDeadlock')).toMatchObject({ got: 'holds', expected: 'holds' });
    expect(by.get('NoOverlap')).toMatchObject({ got: 'n/a', expected: 'n/a' });
  });

  it('takes the scheme documented expectation, else the header violations for the header scheme', () => {
    const h = header({ violations: ['LockOrder'] });
    expect(expectedViolations(upstream, 's', h)).toEqual(['LockOrder']);
    expect(expectedViolations(defineScheme({ name: 'other', summary: '', source: '' }), 's', h)).toEqual([]);
    expect(expectedViolations(defineScheme({ name: 'upstream', summary: '', source: '', expect: { s: [] } }), 's', h)).toEqual([]);
  });

  it('compares each verdict with the expectation', () => {
    const v = (property: Verdict['property'], got: Verdict['got'], expected: Verdict['expected']): Verdict => ({ scenario: 's', scheme: 'x', property, got, expected });
    expect(compareVerdicts([v('NoOverlap', 'holds', 'holds'), v('LockOrder', 'violated', 'violated'), v('KernelBug', 'n/a', 'n/a')])).toEqual([]);
    expect(compareVerdicts([v('NoOverlap', 'violated', 'holds'), v('LockOrder', 'unknown', 'holds'), v('KernelBug', 'n/a', 'violated')])).toEqual([
      { scenario: 's', scheme: 'x', property: 'NoOverlap', expected: 'holds', got: 'violated' },
      { scenario: 's', scheme: 'x', property: 'LockOrder', expected: 'holds', got: 'unknown' },
      { scenario: 's', scheme: 'x', property: 'KernelBug', expected: 'violated', got: 'n/a' },
    ]);
    // A search cut short cannot claim a property holds.
    expect(verdictsOf('s', header({}), upstream, report([], false))[0]!.got).toBe('unknown');
  });

  it('rejects an exercises header field that names no property, naming the field', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'iommu-model-')), 'log.jsonl');
    writeFileSync(file, `${JSON.stringify({ format: 'iommu-model/1', exercises: ['NoDeadlock', 'NoDeadLock'] })}\n`);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err).toContain(":1: field 'exercises[1]': \"NoDeadLock\" is not a property");
    writeFileSync(file, `${JSON.stringify({ format: 'iommu-model/1', exercises: 'NoDeadlock' })}\n`);
    expect((await run('replay', file)).err).toContain("field 'exercises': must be an array of property names");
    writeFileSync(file, `${JSON.stringify({ format: 'iommu-model/1', exercises: ['NoDeadlock'] })}\n`);
    expect((await run('replay', file)).code).toBe(0);
  });
});

describe('every counterexample demo writes', () => {
  it('replays to the same violation at the same record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-cx-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const c = capture();
      expect(await runDemo(c.io, { json: true })).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    const files = readdirSync(join(dir, 'iommu-model-out'));
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const { header, items } = parseLog(readFileSync(join(dir, 'iommu-model-out', f), 'utf8'), f);
      const m = /counterexample: (\w+) at record (\d+)/.exec(header.description ?? '');
      expect(m, f).not.toBeNull();
      const { report } = replayItems(header, items, f, undefined, builtinScheme(header.scheme));
      expect(report.violations.some((v) => v.property === m![1] && v.seq === Number(m![2])), f).toBe(true);
    }
  });
});

describe('a scheme that refuses a scenario set-up', () => {
  const cwd = process.cwd();
  beforeEach(() => process.chdir(mkdtempSync(join(tmpdir(), 'iommu-model-notrun-'))));
  afterEach(() => process.chdir(cwd));
  const noiommuOnly = (expectNotRun: string[]) => defineScheme({ name: 'nio', summary: 'noiommu mode', source: 'test', noiommuEnabled: true, expectNotRun });

  it('names the set-up record that fails, and none when the set-up runs', async () => {
    const file = scenarioFile('msi-window');
    const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
    // noiommu: the group node is /dev/vfio/noiommu-<n>, so the scenario's open of /dev/vfio/<n> fails
    const d = setupFailure(header, items, file, noiommuOnly([]));
    expect(d).toMatchObject({ op: 'open', expected: { ret: 4 }, actual: { errno: 'ENOENT' } });
    expect(setupFailure(header, items, file, upstream)).toBeNull();
  });

  it('shows not run instead of holds, keeps the violations, and compares with what the scheme documents', async () => {
    const vs = verdictsOf('s', { format: 'iommu-model/1', scheme: 'upstream' }, noiommuOnly(['s']), report([{ property: 'IsolationBreach', message: 'm', schedule: [], seq: 4 }]), true);
    const by = new Map(vs.map((v) => [v.property, v]));
    expect(by.get('IsolationBreach')).toMatchObject({ got: 'violated', steps: 0, seq: 4 });
    expect(by.get('NoDeadlock')).toMatchObject({ got: 'not run', expected: 'not run' });

    const documented = capture();
    expect(await runDemo(documented.io, {}, { schemes: [noiommuOnly(['msi-window'])], scenarios: ['msi-window'] })).toBe(0);
    expect(documented.out()).toMatch(/note: msi-window under nio is not run: record 5 \(open, line 5\) expected ret 4, got errno ENOENT/);
    expect(documented.out()).toContain('not run');

    const undocumented = capture();
    expect(await runDemo(undocumented.io, {}, { schemes: [noiommuOnly([])], scenarios: ['msi-window'] })).toBe(1);
    expect(undocumented.out()).toContain('FAIL scheme nio, scenario msi-window, property NoOverlap: expected holds, got not run');

    const runsAfterAll = capture();
    const wrong = defineScheme({ name: 'up', summary: 'upstream', source: 'test', expectNotRun: ['msi-window'] });
    expect(await runDemo(runsAfterAll.io, {}, { schemes: [wrong], scenarios: ['msi-window'] })).toBe(1);
    expect(runsAfterAll.out()).toContain('FAIL scheme up, scenario msi-window, property NoOverlap: expected not run, got holds');
  });
});

describe('demo output folder', () => {
  const cwd = process.cwd();
  beforeEach(() => process.chdir(mkdtempSync(join(tmpdir(), 'iommu-model-stale-'))));
  afterEach(() => process.chdir(cwd));

  it('removes a counterexample an earlier run wrote for a verdict that now holds, and nothing else', async () => {
    mkdirSync('iommu-model-out');
    writeFileSync(join('iommu-model-out', 'zap-vs-p2p-map--upstream--NoOverlap.jsonl'), '{}\n');
    writeFileSync(join('iommu-model-out', 'notes.txt'), 'mine\n');
    writeFileSync(join('iommu-model-out', 'map-vs-munmap--upstream--NoOverlap.jsonl'), '{}\n'); // a pair this run does not explore
    const c = capture();
    expect(await runDemo(c.io, { json: true }, { schemes: [upstream], scenarios: ['zap-vs-p2p-map'] })).toBe(0);
    expect(readdirSync('iommu-model-out').sort()).toEqual(['map-vs-munmap--upstream--NoOverlap.jsonl', 'notes.txt', 'zap-vs-p2p-map--upstream--NoDmaToDisabledMmio.jsonl']);
  });
});
