/**
 * replay, check and explain as library functions: the same reports, findings and text the CLI
 * computes and prints, as data; bad input is an InputError, never a print or an exit.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { check, explain, replay } from '../../src/api/run.js';
import type { StimulusRecord } from '../../src/api/records.js';
import { main } from '../../src/cli/main.js';
import { parseLog } from '../../src/log/reader.js';
import { replayItems } from '../../src/run/replay.js';
import { builtinScheme } from '../../src/schemes/catalogue.js';
import { InputError } from '../../src/vocab/errors.js';

const path = (rel: string): string => fileURLToPath(new URL(`../${rel}`, import.meta.url));
const FIXTURE = path('fixtures/bar-p2p-disable.jsonl');
const text = readFileSync(FIXTURE, 'utf8');

/** What the CLI prints for `args`, and its exit code. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: () => {}, isTTY: false });
  return { code, out };
}

describe('replay', () => {
  it('reports what replayItems reports, from a file, a text or records', async () => {
    const { header, items } = parseLog(text);
    const expected = replayItems(header, items, FIXTURE).report;
    expect(expected.violations.length).toBeGreaterThan(0);
    expect(await replay({ file: FIXTURE })).toEqual(expected);
    expect(await replay({ text, name: FIXTURE })).toEqual(expected);
    const records = text.trim().split('\n').slice(1).map((l) => JSON.parse(l) as StimulusRecord);
    expect(await replay({ records, name: FIXTURE })).toEqual(expected);
  });

  it('with steps, gives what each record did, its violations among them', async () => {
    const r = await replay({ text }, { steps: true });
    expect(r.steps).toHaveLength(r.records);
    expect(r.steps!.flatMap((s) => s.violations)).toEqual(r.violations);
    expect(r.steps![3]).toMatchObject({ seq: 5, op: 'open', line: 5, outcome: { ret: 3 }, returned: 5 });
  });

  it("takes a scheme instead of the header's: a name, a module's path or a Scheme", async () => {
    const log = { file: path('fixtures/races/map-vs-munmap-notifier-lock.jsonl') };
    const byName = await replay(log, { scheme: 'upstream' });
    expect(byName).toMatchObject({ scheme: 'upstream', violations: [] });
    const byFile = await replay(log, { scheme: path('fixtures/schemes/notifier-takes-iommu-lock.mjs') });
    expect(byFile.violations.map((v) => v.property)).toEqual(['NoDeadlock']);
    const byObject = await replay(log, { scheme: builtinScheme('bar-notifier-naive')! });
    expect(byObject.scheme).toBe('bar-notifier-naive');
    expect(byObject.violations.map((v) => v.property)).toContain('NoDeadlock');
  });

  it('throws InputError naming the file and line of a bad record', async () => {
    await expect(replay({ text: '{"format":"iommu-model/1"}\n{"op":"exit"}\n', name: 'x.jsonl' })).rejects.toMatchObject({ file: 'x.jsonl', line: 2, field: 'pid' });
    await expect(replay({ file: '/no/such/log.jsonl' })).rejects.toBeInstanceOf(InputError);
    await expect(replay({ text: '{"format":"iommu-model/1","scheme":"nope"}' })).rejects.toThrow(/unknown scheme "nope"/);
  });
});

describe('check', () => {
  it("finds what `check` finds, each finding with a counterexample that replay reproduces", async () => {
    const r = await check('map-vs-munmap', 'bar-notifier-naive');
    const { out } = await cli(['check', '--scenario', 'map-vs-munmap', '--scheme', 'bar-notifier-naive', '--json']);
    const json = JSON.parse(out) as { violations: Array<{ property: string; schedule: string[] }> };
    expect(r.findings.map((f) => [f.property, f.schedule])).toEqual(json.violations.map((v) => [v.property, v.schedule]));
    expect(r.exhausted).toBe(true);
    for (const f of r.findings) {
      const again = await replay({ text: f.counterexample }, { scheme: 'bar-notifier-naive' });
      expect(again.violations.map((v) => v.property)).toContain(f.property);
    }
    const verdict = (p: string): string | undefined => r.verdicts.find((v) => v.property === p)?.got;
    expect(verdict('LockOrder')).toBe('violated');
    expect(verdict('NoOverlap')).toBe('holds');
  });

  it('explores a scenario given as text, and says when the search was cut off', async () => {
    const sc = readFileSync(path('../src/scenarios/map-vs-munmap.jsonl'), 'utf8');
    const r = await check({ text: sc, name: 'mine' }, 'upstream', { maxStates: 3 });
    expect(r).toMatchObject({ scenario: 'mine', exhausted: false, findings: [] });
    expect(r.verdicts.every((v) => v.got === 'unknown' || v.got === 'n/a')).toBe(true);
  });

  it('refuses a scheme that cannot run the set-up, an unknown scenario and a log with steps', async () => {
    await expect(check('map-vs-munmap', 'noiommu')).rejects.toThrow(/set-up fails under scheme 'noiommu'/);
    await expect(check('no-such-scenario')).rejects.toBeInstanceOf(InputError);
    await expect(check({ text: '{"format":"iommu-model/1"}\n{"op":"step","task":"a"}' })).rejects.toThrow(/recorded schedule/);
  });
});

describe('explain', () => {
  it("is the text check prints for a finding, with lockdep's chain and scenario as data", async () => {
    const r = await check('map-vs-munmap', 'bar-notifier-naive');
    const lo = r.findings.find((f) => f.property === 'LockOrder')!;
    const e = explain(lo);
    const { out } = await cli(['check', '--scenario', 'map-vs-munmap', '--scheme', 'bar-notifier-naive']);
    expect(out).toContain(e.text);
    expect(e.text).toContain('WARNING: possible circular locking dependency detected');
    expect(e.chain).toEqual(lo.chain);
    expect(e.scenario?.kind).toBe('lock-order');
    expect(e.text.endsWith(`${e.detail.join('\n')}\n`)).toBe(true);
  });

  it('is the text replay prints for a violation', async () => {
    const r = await replay({ file: FIXTURE });
    const { out } = await cli(['replay', FIXTURE]);
    const e = explain(r.violations[0]!);
    expect(out).toContain(e.text);
    expect(e.detail).toEqual([]);
    expect(e.text).toMatch(/^violation NoDmaToDisabledMmio at \d+: /);
  });
});

describe('the API refuses what the types would, and keeps the CLI rule for schemes', () => {
  it('replay of a source of the wrong shape (from JavaScript) is an InputError, not a TypeError', async () => {
    await expect(replay('test/fixtures/spec-example.jsonl' as never)).rejects.toThrow(InputError);
    await expect(replay(null as never)).rejects.toThrow(/expected \{ file \}, \{ text \} or \{ records \}/);
  });

  it("check uses the scenario header's scheme unless one is given, as iommu-model check does", async () => {
    const text = readFileSync(fileURLToPath(new URL('../../src/scenarios/bar-p2p-revoke.jsonl', import.meta.url)), 'utf8').replace('{"format":"iommu-model/1"', '{"format":"iommu-model/1","scheme":"bar-notifier-naive"');
    const underHeader = await check({ text, name: 'bar-p2p-revoke' });
    const underUpstream = await check({ text, name: 'bar-p2p-revoke' }, 'upstream');
    expect(underHeader.findings.map((f) => f.property)).toContain('LockOrder');
    expect(underUpstream.findings.map((f) => f.property)).not.toContain('LockOrder');
  });
});
