/**
 * check --shard k/n and merge: for every built-in scenario under every built-in scheme that
 * documents a violation on it, the merge of the three shards' reports gives what one run gives:
 * the same verdicts, the same findings (schedules, records, messages) and, with --out, the same
 * counterexample log byte for byte. Merge refuses reports that are not the shards of one search.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { expectedViolations, setupFailure } from '../../src/run/verdicts.js';
import { builtinSchemes } from '../../src/schemes/catalogue.js';
import { run } from '../cli-run.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCENARIOS = join(ROOT, 'src', 'scenarios');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-shard-'));

interface CheckJson {
  exhausted: boolean;
  properties: Record<string, string>;
  violations: Array<{ property: string; seq: number; message: string; schedule: string[] }>;
  lockEdges: number;
}

/** The pairs whose scheme documents a violation on the scenario and runs its set-up. */
function violatingPairs(): Array<{ scenario: string; scheme: string }> {
  const out: Array<{ scenario: string; scheme: string }> = [];
  for (const f of readdirSync(SCENARIOS).filter((x) => x.endsWith('.jsonl')).sort()) {
    const scenario = f.replace(/\.jsonl$/, '');
    const { header, items } = parseLog(readFileSync(join(SCENARIOS, f), 'utf8'), f);
    for (const s of builtinSchemes()) {
      if (expectedViolations(s, scenario, header).length > 0 && setupFailure(header, items, f, s) === null) out.push({ scenario, scheme: s.name });
    }
  }
  return out;
}

/** Shards k/n of a check, each report written to a file. */
async function shards(dir: string, n: number, ...args: string[]): Promise<string[]> {
  const files: string[] = [];
  for (let k = 1; k <= n; k += 1) {
    const r = await run('check', ...args, '--shard', `${k}/${n}`, '--json');
    expect(r.code, r.err).toBe(0);
    const file = join(dir, `shard-${k}.json`);
    writeFileSync(file, r.out);
    files.push(file);
  }
  return files;
}

describe('merge of check --shard k/3 is one run', () => {
  const pairs = violatingPairs();
  it('covers the pairs that violate something', () => {
    expect(pairs.length).toBeGreaterThan(10);
  });
  for (const { scenario, scheme } of pairs) {
    it(`${scenario} under ${scheme}`, async () => {
      const dir = tmp();
      const args = ['--scenario', scenario, '--scheme', scheme];
      const one = await run('check', ...args, '--json', '--out', join(dir, 'one.jsonl'));
      expect(one.code, one.err).not.toBe(2);
      const merged = await run('merge', ...(await shards(dir, 3, ...args)), '--json', '--out', join(dir, 'merged.jsonl'));
      expect(merged.code).toBe(one.code);
      const a = JSON.parse(one.out) as CheckJson;
      const b = JSON.parse(merged.out) as CheckJson;
      expect(b.exhausted).toBe(a.exhausted);
      expect(b.properties).toEqual(a.properties);
      expect(b.violations).toEqual(a.violations);
      expect(b.lockEdges).toBe(a.lockEdges);
      if (a.violations.length > 0) expect(readFileSync(join(dir, 'merged.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'one.jsonl'), 'utf8'));
    }, 60_000);
  }
});

describe('a shard', () => {
  it('splits at the first layer with 4n nodes, or at --shard-depth, and its nodes are round-robin', async () => {
    const reports = [1, 2, 3].map(async (k) => JSON.parse((await run('check', '--scenario', 'zap-vs-p2p-map', '--shard', `${k}/3`, '--json')).out) as { report: { split: { depth: number; layer: number; roots: number } } });
    const splits = (await Promise.all(reports)).map((r) => r.report.split);
    expect(splits[0]!.layer).toBeGreaterThanOrEqual(12);
    expect(splits.map((s) => s.roots).reduce((a, b) => a + b, 0)).toBe(splits[0]!.layer);
    const shallow = JSON.parse((await run('check', '--scenario', 'zap-vs-p2p-map', '--shard', '1/3', '--shard-depth', '2', '--json')).out) as { report: { split: { depth: number } } };
    expect(shallow.report.split.depth).toBe(2);
  });

  it('merged at a shallow split still gives one run\'s findings', async () => {
    const dir = tmp();
    const args = ['--scenario', 'zap-vs-p2p-map', '--scheme', 'bar-notifier-naive'];
    const files: string[] = [];
    for (let k = 1; k <= 5; k += 1) {
      const file = join(dir, `s${k}.json`);
      writeFileSync(file, (await run('check', ...args, '--shard', `${k}/5`, '--shard-depth', '1', '--json')).out);
      files.push(file);
    }
    const one = JSON.parse((await run('check', ...args, '--json')).out) as CheckJson;
    const merged = JSON.parse((await run('merge', ...files, '--json')).out) as CheckJson;
    expect(merged.violations).toEqual(one.violations);
  });

  it('refuses k/n out of range and --shard-depth without --shard (exit 2)', async () => {
    expect((await run('check', '--scenario', 'map-vs-munmap', '--shard', '4/3')).code).toBe(2);
    expect((await run('check', '--scenario', 'map-vs-munmap', '--shard', '1/3', '--out', 'x.jsonl')).code).toBe(2);
    const r = await run('check', '--scenario', 'map-vs-munmap', '--shard-depth', '2');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--shard-depth');
  });
});

describe('merge refuses what is not one search (exit 2, naming the file)', () => {
  it('a missing shard, a duplicate, another scenario, a file that is no report', async () => {
    const dir = tmp();
    const [s1, s2, s3] = await shards(dir, 3, '--scenario', 'zap-vs-p2p-map');
    const missing = await run('merge', s1!, s3!);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('shard 2/3 missing');
    const dup = await run('merge', s1!, s2!, s3!, s1!);
    expect(dup.code).toBe(2);
    expect(dup.err).toContain('twice');
    const other = join(dir, 'other.json');
    writeFileSync(other, (await run('check', '--scenario', 'map-vs-munmap', '--shard', '2/3', '--json')).out);
    const mixed = await run('merge', s1!, other, s3!);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toContain(other);
    expect(mixed.err).toContain('another scenario');
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, '{"format":"iommu-model-shard/1","tool":1}');
    const bad = await run('merge', junk);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/junk\.json: field 'tool'/);
  });
});
