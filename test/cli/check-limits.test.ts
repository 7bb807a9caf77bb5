/**
 * check within limits: --max-memory and --time-limit cut the search off with a partial report
 * (exit 4, or 1 with a violation) instead of letting node die; --checkpoint saves a cut-off
 * search and --resume continues it, so that a search run in pieces reports what one run
 * reports; a checkpoint of another scenario, scheme or version is refused (exit 2).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatBytes, parseSize } from '../../src/cli/limits.js';
import { readText } from '../../src/cli/io.js';
import { InputError } from '../../src/vocab/errors.js';
import { manyTasksScenario } from '../fixtures/many-tasks.js';
import { run } from '../cli-run.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TAKES_LOCK = join(ROOT, 'test', 'fixtures', 'schemes', 'notifier-takes-iommu-lock.mjs');

/** The CLI in a node of its own, its heap limited: the way the issue saw check die (SIGABRT, exit 134). */
function runNode(oldSpaceMiB: number, ...argv: string[]): { code: number | null; signal: string | null; out: string; err: string } {
  const script = `import { main } from ${JSON.stringify(join(ROOT, 'src', 'cli', 'main.ts'))};
process.exitCode = await main(process.argv.slice(1), { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), isTTY: false });`;
  const r = spawnSync(process.execPath, [`--max-old-space-size=${oldSpaceMiB}`, '--import', 'tsx', '--input-type=module', '-e', script, ...argv], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-limits-'));

/** The scenario: 16 tasks over 2000 prologue mmaps. */
function manyTasks(dir: string): string {
  const file = join(dir, 'many-tasks.jsonl');
  writeFileSync(file, manyTasksScenario(16, 2000));
  return file;
}

interface CheckJson {
  exhausted: boolean;
  cutOff?: string;
  checkpoint?: string;
  resumedFrom?: string;
  resumedAt?: number;
  statesGenerated: number;
  [k: string]: unknown;
}

/** What one run and a run in pieces must agree on: everything but the timing and the pieces. */
function verdict(doc: CheckJson): object {
  const { seconds, statesPerSecond, checkpoint, resumedFrom, resumedAt, cutOff, counterexample, ...rest } = doc;
  void [seconds, statesPerSecond, checkpoint, resumedFrom, resumedAt, cutOff, counterexample];
  return rest;
}

describe('check --max-memory and --time-limit', () => {
  it("ends the issue's scenario (16 tasks, 2000 prologue mmaps) with exit 4 under --max-memory, and saves it", () => {
    const dir = tmp();
    const cp = join(dir, 'cp.json');
    const r = runNode(256, 'check', '--scenario', manyTasks(dir), '--max-memory', '64M', '--checkpoint', cp, '--json');
    expect(r.err).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.out) as CheckJson;
    expect(doc.exhausted).toBe(false);
    expect(doc.cutOff).toBe('memory limit 64 MiB reached');
    expect(doc.checkpoint).toBe(cp);
    expect(existsSync(cp)).toBe(true);
  }, 180_000);

  it('stops before the heap is exhausted by default: 80% of what a small heap holds, in words', () => {
    const dir = tmp();
    const r = runNode(64, 'check', '--scenario', manyTasks(dir));
    expect(r.signal).toBeNull();
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/not exhausted: \d+ states \(memory limit 51 MiB reached\)/);
    expect(r.out).toContain('no property is shown to hold (exit 4)');
  }, 180_000);

  it('stops at --time-limit with exit 4', async () => {
    const r = await run('check', '--scenario', manyTasks(tmp()), '--time-limit', '0.5', '--json');
    expect(r.code).toBe(4);
    expect((JSON.parse(r.out) as CheckJson).cutOff).toBe('time limit 0.5 s reached');
  }, 180_000);

  it.each([
    ['--max-memory', 'lots', 'expected a size such as 512M or 2G, got "lots"'],
    ['--max-memory', '0', 'expected a size such as 512M or 2G, got "0"'],
    ['--max-memory', '64T', "is more than node's heap can hold"],
    ['--time-limit', '-1', 'expected a positive number of seconds, got "-1"'],
    ['--time-limit', '0', 'expected a positive number of seconds, got "0"'],
    ['--time-limit', `\u001b${'9'.repeat(5000)}`, 'got "\\u001b999'],
    ['--max-memory', 'x'.repeat(5000), 'more characters)'],
  ])('rejects %s %s with exit 2 and one line naming the flag', async (flag, value, says) => {
    const r = await run('check', '--scenario', 'map-vs-munmap', flag, value);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`field '${flag}'`);
    expect(r.err).toContain(says);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err.length).toBeLessThan(400);
  });

  it('takes sizes in K, M, G, T (powers of 1024) with an optional iB, and says them back in MiB or GiB', () => {
    expect(['2097152K', '2048M', '2G', '2GiB', '2gb', '2147483648'].map((t) => parseSize('--max-memory', t))).toEqual(Array(6).fill(2 ** 31));
    expect(parseSize('--max-memory', '1.5G')).toBe(1.5 * 2 ** 30);
    expect([formatBytes(1.6 * 2 ** 30), formatBytes(512 * 2 ** 20), formatBytes(96 * 2 ** 20)]).toEqual(['1.6 GiB', '512 MiB', '96 MiB']);
  });
});

describe('check --checkpoint and --resume', () => {
  // A LockOrder and NoDeadlock pair, a pair whose LockOrder cycle takes 8 steps, and a clean one.
  const pairs: ReadonlyArray<readonly [string, string]> = [
    ['map-vs-munmap', TAKES_LOCK],
    ['zap-vs-p2p-map', 'bar-notifier-naive'],
    ['vm-lifecycle', 'upstream'],
  ];
  for (const [scenario, scheme] of pairs) {
    it(`${scenario} under ${scheme.endsWith('.mjs') ? 'a scheme file' : scheme}: resumed every 9 states until exhausted, as one run`, async () => {
      const dir = tmp();
      const cp = join(dir, 'cp.json');
      const one = await run('check', '--scenario', scenario, '--scheme', scheme, '--json', '--out', join(dir, 'one.jsonl'));
      let r = await run('check', '--scenario', scenario, '--scheme', scheme, '--json', '--max-states', '9', '--checkpoint', cp);
      let pieces = 1;
      for (; !(JSON.parse(r.out) as CheckJson).exhausted; pieces += 1) {
        expect(r.code === 1 || r.code === 4).toBe(true);
        expect((JSON.parse(r.out) as CheckJson).checkpoint).toBe(cp);
        r = await run('check', '--scenario', scenario, '--scheme', scheme, '--json', '--max-states', '9', '--resume', cp, '--out', join(dir, 'pieces.jsonl'));
      }
      expect(pieces).toBeGreaterThan(2);
      expect(r.code).toBe(one.code);
      const last = JSON.parse(r.out) as CheckJson;
      expect(last.resumedFrom).toBe(cp);
      expect(last.checkpoint).toBeUndefined();
      expect(verdict(last)).toEqual(verdict(JSON.parse(one.out) as CheckJson));
      if (one.code === 1) expect(readFileSync(join(dir, 'pieces.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'one.jsonl'), 'utf8'));
    });
  }

  it('says in text where it saved the search and how to resume it', async () => {
    const cp = join(tmp(), 'cp.json');
    const r = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--checkpoint', cp);
    expect(r.code).toBe(4);
    expect(r.out).toContain(`checkpoint written to ${cp}:\n  npx iommu-model check --scenario map-vs-munmap --scheme upstream --resume ${cp}\n`);
    const again = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--resume', cp);
    expect(again.out).toContain(`resumed from ${cp} at 5 states`);
    expect(again.out).toContain('not exhausted: 10 states (--max-states)');
  });

  it('writes no checkpoint for a search that was exhausted', async () => {
    const cp = join(tmp(), 'cp.json');
    const r = await run('check', '--scenario', 'map-vs-munmap', '--checkpoint', cp);
    expect(r.code).toBe(0);
    expect(existsSync(cp)).toBe(false);
    expect(r.out).not.toContain('checkpoint');
  });

  it('refuses a checkpoint into a directory that does not exist before it searches', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--checkpoint', join(tmp(), 'no', 'cp.json'));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/cp\.json: cannot write a checkpoint: no directory/);
  });

  it('refuses an --out or --checkpoint it could not write before it searches, not after', async () => {
    const dir = tmp();
    const cp = join(dir, 'cp.json');
    const out = join(dir, 'cx.jsonl');
    // cut off with no violation, this search would write the checkpoint and no --out at all
    const r1 = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--out', dir, '--checkpoint', cp);
    expect([r1.code, r1.err, existsSync(cp)]).toEqual([2, `iommu-model: ${dir}: cannot write: is a directory (EISDIR)\n`, false]);
    // this one finds a violation: the counterexample would be written, then the checkpoint refused
    const r2 = await run('check', '--scenario', 'map-vs-munmap', '--scheme', 'bar-notifier-naive', '--out', out, '--checkpoint', dir);
    expect([r2.code, r2.err, existsSync(out)]).toEqual([2, `iommu-model: ${dir}: cannot write: is a directory (EISDIR)\n`, false]);
    const r3 = await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--out', join(dir, 'no', 'cx.jsonl'));
    expect([r3.code, r3.err]).toEqual([2, `iommu-model: ${join(dir, 'no', 'cx.jsonl')}: cannot write: no such directory ${join(dir, 'no')}\n`]);
  });

  describe('refuses, with exit 2 and the file unchanged, a checkpoint', () => {
    async function saved(): Promise<string> {
      const cp = join(tmp(), 'cp.json');
      expect((await run('check', '--scenario', 'map-vs-munmap', '--max-states', '5', '--checkpoint', cp)).code).toBe(4);
      return cp;
    }
    async function refused(cp: string, ...argv: string[]): Promise<string> {
      const before = readFileSync(cp, 'utf8');
      const r = await run('check', '--resume', cp, ...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(readFileSync(cp, 'utf8')).toBe(before);
      return r.err;
    }
    const edit = (cp: string, f: (doc: Record<string, unknown>) => void): void => {
      const doc = JSON.parse(readFileSync(cp, 'utf8')) as Record<string, unknown>;
      f(doc);
      writeFileSync(cp, JSON.stringify(doc));
    };

    it('of another scenario', async () => {
      expect(await refused(await saved(), '--scenario', 'exit-vs-map')).toMatch(/cp\.json: field 'scenario': the checkpoint is of another scenario \(map-vs-munmap, sha256 [0-9a-f]{12}\), not of exit-vs-map/);
    });

    it('of the same scenario file changed', async () => {
      const dir = tmp();
      const file = join(dir, 'mine.jsonl');
      const text = readFileSync(join(ROOT, 'src', 'scenarios', 'map-vs-munmap.jsonl'), 'utf8');
      writeFileSync(file, text);
      const cp = join(dir, 'cp.json');
      expect((await run('check', '--scenario', file, '--max-states', '5', '--checkpoint', cp)).code).toBe(4);
      writeFileSync(file, text.replace('"rlimit_memlock":"0x1000000"', '"rlimit_memlock":"0x2000000"'));
      expect(await refused(cp, '--scenario', file)).toContain("field 'scenario': the checkpoint is of another scenario");
    });

    it('of another scheme', async () => {
      expect(await refused(await saved(), '--scenario', 'map-vs-munmap', '--scheme', 'bar-notifier-naive')).toContain("field 'scheme': the checkpoint is of scheme 'upstream', not 'bar-notifier-naive'");
    });

    it('of another version of the tool', async () => {
      const cp = await saved();
      edit(cp, (doc) => (doc['tool'] = 'iommu-model 0.0.1'));
      expect(await refused(cp, '--scenario', 'map-vs-munmap')).toMatch(/field 'tool': written by iommu-model 0\.0\.1, this is iommu-model \d/);
    });

    it('that cannot be read: missing, a directory, or endless (/dev/zero), as one line naming it', async () => {
      const dir = tmp();
      for (const [cp, says] of [[join(dir, 'none.json'), 'no such file or directory'], [dir, 'is a directory']]) {
        const r = await run('check', '--scenario', 'map-vs-munmap', '--resume', cp!);
        expect([r.code, r.err]).toEqual([2, `iommu-model: ${cp}: ${says}\n`]);
      }
      // A checkpoint is read whole, but only up to the longest string Node.js holds (here 1 MiB).
      expect(() => readText('/dev/zero', 2 ** 20)).toThrow(new InputError('/dev/zero', null, null, 'longer than 1048576 bytes'));
    });

    it('that is not one, or is damaged', async () => {
      const cp = await saved();
      writeFileSync(cp, '{"format":"something-else"}');
      expect(await refused(cp, '--scenario', 'map-vs-munmap')).toContain("field 'format': not a checkpoint of iommu-model check");
      writeFileSync(cp, 'garbage');
      expect(await refused(cp, '--scenario', 'map-vs-munmap')).toContain('cp.json: not a checkpoint:');
      const good = await saved();
      edit(good, (doc) => ((doc['search'] as Record<string, unknown>)['parent'] = [-1, 5]));
      expect(await refused(good, '--scenario', 'map-vs-munmap')).toContain("field 'search.parent': not a schedule tree");
    });
  });
});
