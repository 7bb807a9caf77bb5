/**
 * check --workers N: the search's 16 shards on N worker threads, merged. The report is the same
 * for every N (but the time), its verdicts, findings and counterexample are one run's, and the
 * threads run from the sources (tests) and from dist/ (the installed command).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const bin = fileURLToPath(new URL('../../bin/iommu-model.js', import.meta.url));
// a pair whose search splits into 16 shards and violates a property (PasidNotReusedWhileLive)
const ARGS = ['--scenario', 'sva-bind-pasid-exhausted', '--scheme', 'pasid-free-at-mmput'];

/** The report without what depends on the clock (and the --out file's name). */
function timeless(out: string): Record<string, unknown> {
  const { seconds, statesPerSecond, counterexample, ...rest } = JSON.parse(out) as Record<string, unknown>;
  void [seconds, statesPerSecond, counterexample];
  return rest;
}

describe('check --workers', () => {
  it('gives the same report for 1 and 2 workers, with one run\'s verdicts and counterexample', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-workers-'));
    const one = await run('check', ...ARGS, '--json', '--out', join(dir, 'one.jsonl'));
    const w1 = await run('check', ...ARGS, '--workers', '1', '--json', '--out', join(dir, 'w1.jsonl'));
    const w2 = await run('check', ...ARGS, '--workers', '2', '--json', '--out', join(dir, 'w2.jsonl'));
    expect(w1.code, w1.err).toBe(1);
    expect(w2.code).toBe(1);
    expect(timeless(w2.out)).toEqual(timeless(w1.out));
    const a = timeless(one.out);
    const b = timeless(w2.out);
    expect(b['properties']).toEqual(a['properties']);
    expect(b['violations']).toEqual(a['violations']);
    expect(b['lockEdges']).toEqual(a['lockEdges']);
    expect(readFileSync(join(dir, 'w2.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'one.jsonl'), 'utf8'));
    expect(readFileSync(join(dir, 'w1.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'one.jsonl'), 'utf8'));
  }, 120_000);

  it('a search that ends within the prefix needs no thread and is one run exactly', async () => {
    const one = timeless((await run('check', '--scenario', 'map-vs-munmap', '--json')).out);
    expect(timeless((await run('check', '--scenario', 'map-vs-munmap', '--workers', '2', '--json')).out)).toEqual(one);
  });

  it('runs its threads from dist/ through the installed command', () => {
    const r = spawnSync(process.execPath, [bin, 'check', ...ARGS, '--workers', '2', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    const plain = spawnSync(process.execPath, [bin, 'check', ...ARGS, '--json'], { encoding: 'utf8' });
    expect(timeless(r.stdout)['violations']).toEqual(timeless(plain.stdout)['violations']);
  }, 120_000);

  it('refuses --workers 0 and --workers with --checkpoint (exit 2)', async () => {
    expect((await run('check', '--scenario', 'map-vs-munmap', '--workers', '0')).code).toBe(2);
    expect((await run('check', '--scenario', 'map-vs-munmap', '--workers', '2', '--checkpoint', 'x.json')).code).toBe(2);
  });
});
