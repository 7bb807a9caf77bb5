import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { run } from '../cli-run.js';

const SCHEMES = join(import.meta.dirname, '..', 'fixtures', 'schemes');
const TAKES_LOCK = join(SCHEMES, 'notifier-takes-iommu-lock.mjs');

interface CheckJson {
  kernel: string;
  exhausted: boolean;
  properties: Record<string, string>;
  violations: Array<{ property: string; seq: number; message: string; schedule: string[]; steps: number }>;
  counterexample?: string;
}

interface ReplayJson {
  violations: Array<{ property: string; seq: number; message: string }>;
  divergences: unknown[];
}

describe('iommu-model check', () => {
  it('exits 2 naming the set-up record when the scheme refuses the scenario, rather than claim it holds', async () => {
    const r = await run('check', '--scenario', 'exit-with-page-requests', '--scheme', 'noiommu', '--json');
    expect(r.code).toBe(2);
    // with --json the error is a JSON document on stdout too, naming what the line on stderr names
    const doc = JSON.parse(r.out) as { error: { code: string; exit: number; line: number; field: string; message: string } };
    expect(doc.error).toMatchObject({ code: 'input', exit: 2, line: 6, field: 'expect' });
    expect(r.err).toBe(`iommu-model: ${doc.error.message}\n`);
    expect(r.err).toMatch(/exit-with-page-requests\.jsonl:6: field 'expect': the scenario's set-up fails under scheme 'noiommu': record 6 \(sva\.bind\) .*"errno":"ENODEV"/);
    expect(r.err.split('\n').filter((l) => l !== '')).toHaveLength(1);
  });

  it('exits 0 on map-vs-munmap under upstream and says the search was exhausted', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[1]).toBe('kernel: Linux v6.18');
    expect(r.out).toContain('exhausted');
    expect(r.out).not.toContain('NOT exhausted');
    expect(r.out).not.toContain('VIOLATED');
    expect(r.err).toBe('');
  });

  it('exits 1 with a scheme file whose notifier takes iommu->lock', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', TAKES_LOCK);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/NoDeadlock\s+VIOLATED/);
    expect(r.out).toMatch(/LockOrder\s+VIOLATED/);
  });

  it('reports NoDeadlock and LockOrder as violated in --json', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', TAKES_LOCK, '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as CheckJson;
    expect(doc.exhausted).toBe(true);
    expect(doc.kernel).toBe('6.18');
    expect(doc.properties['NoDeadlock']).toBe('violated');
    expect(doc.properties['LockOrder']).toBe('violated');
    expect(doc.properties['NoOverlap']).toBe('holds');
  });

  it('writes with --out a counterexample log that replays to the same NoDeadlock violation', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'iommu-model-check-')), 'cx.jsonl');
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', TAKES_LOCK, '--json', '--out', out);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as CheckJson;
    expect(doc.counterexample).toBe(out);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('"op":"step"');
    const deadlock = doc.violations.find((v) => v.property === 'NoDeadlock');
    expect(deadlock).toBeDefined();

    const rep = await run('replay', out, '--scheme', TAKES_LOCK, '--json');
    expect(rep.code).toBe(1);
    const rdoc = JSON.parse(rep.out) as ReplayJson;
    expect(rdoc.divergences).toEqual([]);
    expect(rdoc.violations.filter((v) => v.property === 'NoDeadlock').map((v) => v.seq)).toEqual([deadlock!.seq]);

    const plain = await run('replay', out, '--scheme', TAKES_LOCK);
    expect(plain.code).toBe(1);
    expect(plain.out).toContain(`violation NoDeadlock at ${deadlock!.seq}`);
  });

  it("explores a scenario under its header's kernel release, and its counterexample carries it to replay", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-check-'));
    const scenario = join(dir, 'map-vs-munmap-6.17.jsonl');
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'src', 'scenarios', 'map-vs-munmap.jsonl'), 'utf8');
    writeFileSync(scenario, text.replace('{"format":"iommu-model/1"', '{"format":"iommu-model/1","kernel":"6.17"'));
    const out = join(dir, 'cx.jsonl');
    const r = await run('check', '--scenario', scenario, '--scheme', TAKES_LOCK, '--out', out);
    expect(r.code).toBe(1);
    expect(r.out.split('\n')[1]).toBe('kernel: Linux v6.17');
    expect(JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!)).toMatchObject({ kernel: '6.17' });
    const rep = await run('replay', out, '--scheme', TAKES_LOCK, '--json');
    expect((JSON.parse(rep.out) as { kernel: string }).kernel).toBe('6.17');
  });

  it('rejects an unknown scenario name with exit 2 and one stderr line naming --scenario', async () => {
    const r = await run('check', '--scenario', 'no-such-scenario');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('--scenario');
    expect(r.err).toContain('no-such-scenario');
    expect(r.err).not.toContain('    at ');
    expect(r.out).toBe('');
  });

  it('rejects a --max-states that is not a number with exit 2', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--max-states', 'abc');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--max-states');
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('says NOT exhausted when --max-states cuts the search', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--json');
    const doc = JSON.parse(r.out) as CheckJson;
    expect(doc.exhausted).toBe(false);
    expect(doc.properties['NoDeadlock']).toBe('not violated so far');
  });
});

describe('iommu-model scenarios', () => {
  it('lists map-vs-munmap', async () => {
    const r = await run('scenarios');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').some((l) => l.startsWith('map-vs-munmap '))).toBe(true);
  });
});

describe('user scheme files', () => {
  it('loads a scheme written in TypeScript outside the package and runs it', async () => {
    let out = '';
    const code = await main(['check', '--scenario', 'zap-vs-p2p-map', '--scheme', 'test/fixtures/schemes/bar-interval-notifier-copy.ts', '--json'], {
      stdout: (s) => (out += s),
      stderr: () => undefined,
      isTTY: false,
    });
    const doc = JSON.parse(out) as { scheme: string; exhausted: boolean; properties: Record<string, string> };
    expect(code).toBe(0);
    expect(doc.scheme).toBe('my-interval-notifier');
    expect(doc.exhausted).toBe(true);
    expect(doc.properties['NoDmaToDisabledMmio']).toBe('holds');
  });

  it('rejects a scheme file with an unknown policy value, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-scheme-'));
    const file = join(dir, 'bad.mjs');
    writeFileSync(file, "export default { name: 'bad', summary: 's', source: 's', pfnmap: 'teleport' };\n");
    let err = '';
    const code = await main(['check', '--scenario', 'map-vs-munmap', '--scheme', file], { stdout: () => undefined, stderr: (s) => (err += s), isTTY: false });
    expect(code).toBe(2);
    expect(err).toContain("field 'pfnmap': must be one of");
    const file2 = join(dir, 'bad2.mjs'); // a new file: an imported module stays cached by its URL
    writeFileSync(file2, "export default { name: 'bad', summary: 's', source: 's', expectNotRun: 'msi-window' };\n");
    err = '';
    expect(await main(['check', '--scenario', 'map-vs-munmap', '--scheme', file2], { stdout: () => undefined, stderr: (s) => (err += s), isTTY: false })).toBe(2);
    expect(err).toContain("field 'expectNotRun': must be an array of scenario names");
  });
});
