/**
 * check --swarm k/n: a bounded randomised search, the same for the same k/n, never exhaustive
 * (exit 4 when it finds nothing), whose counterexample replays to its violation; merge of swarm
 * reports takes the shortest finding over the runs and never claims exhaustion.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const NAIVE = ['--scenario', 'zap-vs-p2p-map', '--scheme', 'bar-notifier-naive'];
const timeless = (out: string): unknown => {
  const doc = JSON.parse(out) as { seconds?: number };
  delete doc.seconds;
  return doc;
};

describe('check --swarm', () => {
  it('is deterministic: the same k/n gives the same report', async () => {
    const a = await run('check', ...NAIVE, '--swarm', '2/4', '--json');
    const b = await run('check', ...NAIVE, '--swarm', '2/4', '--json');
    expect(a.code).toBe(1);
    expect(timeless(b.out)).toEqual(timeless(a.out));
  });

  it('writes a counterexample that replays to the violation it reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-swarm-'));
    const cx = join(dir, 'cx.jsonl');
    const r = await run('check', ...NAIVE, '--swarm', '1/4', '--out', cx, '--json');
    expect(r.code).toBe(1);
    const found = (JSON.parse((await run('check', ...NAIVE, '--swarm', '1/4', '--json')).out) as { report: { findings: Array<{ property: string; seq: number }> } }).report.findings;
    const replayed = JSON.parse((await run('replay', cx, '--scheme', 'bar-notifier-naive', '--json')).out) as { violations: Array<{ property: string; seq: number }> };
    const first = ['NoDmaToDisabledMmio', 'NoDeadlock'].map((p) => found.find((f) => f.property === p)).find((f) => f !== undefined)!;
    expect(replayed.violations.some((v) => v.property === first.property && v.seq === first.seq)).toBe(true);
  });

  it('exits 4 when it finds nothing, and says it is not exhaustive', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--swarm', '1/2');
    expect(r.code).toBe(4);
    expect(r.out).toContain('not exhaustive');
  });

  it('merged, gives the shortest finding of the runs and never claims exhaustion', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-swarm-'));
    const files = [1, 2].map((k) => join(dir, `sw${k}.json`));
    for (const [i, f] of files.entries()) writeFileSync(f, (await run('check', '--scenario', 'map-vs-munmap', '--swarm', `${i + 1}/2`, '--json')).out);
    const m = await run('merge', ...files, '--json');
    expect(m.code).toBe(4);
    expect((JSON.parse(m.out) as { exhausted: boolean }).exhausted).toBe(false);
  });
});
