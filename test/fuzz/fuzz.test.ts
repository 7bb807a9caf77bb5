/**
 * Fuzzing, on a fixed seed and a bounded budget (IOMMU_MODEL_FUZZ_RUNS raises it): every input
 * ends in a result or in exit 2 with one clean line; never a stack, never exit 3, never a hang
 * (vitest's timeout catches one). The commands run in process, through the same `main` the
 * binary calls, so thousands of inputs fit in seconds.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { hostileSchemeSource, mutatedLog, seedLogs } from './corpus.js';

/** Runs per property by default, chosen so that the whole file stays well under 30 s. */
const RUNS = Number(process.env['IOMMU_MODEL_FUZZ_RUNS'] ?? '0') || undefined;
const SEED = 20261202;
const dir = mkdtempSync(join(tmpdir(), 'iommu-model-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[]): Promise<Ran> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false });
  return { code, out, err };
}

/**
 * What every run must end in: a result (0, 1, or 4 for check) with output, or exit 2 with one
 * line on stderr that names a file, is free of control characters and stack frames, and is short.
 */
function assertClean(r: Ran, allowed: readonly number[], input: string): void {
  const why = `${input}\nexit ${r.code}\nstderr: ${JSON.stringify(r.err.slice(0, 2000))}`;
  expect(allowed, why).toContain(r.code);
  if (r.code === 2) {
    expect(r.err.endsWith('\n'), why).toBe(true);
    const line = r.err.slice(0, -1);
    expect(line.includes('\n'), why).toBe(false);
    expect(line.startsWith('iommu-model: '), why).toBe(true);
    expect(/[\u0000-\u001f\u007f]/.test(line), why).toBe(false);
    expect(line, why).not.toMatch(/\n\s+at /);
    // a value is echoed at most 200 characters long; the rest of the line is file, line, field
    expect(line.length, why).toBeLessThan(1200);
    expect(r.out, why).toBe('');
  } else {
    expect(r.out.length, why).toBeGreaterThan(0);
  }
}

const seeds = seedLogs();

describe('fuzz: mutated logs', () => {
  it('replay ends every mutated log in a result or one clean line with exit 2', async () => {
    const file = join(dir, 'replay.jsonl');
    await fc.assert(
      fc.asyncProperty(mutatedLog(seeds), async ({ seed, bytes }) => {
        writeFileSync(file, bytes);
        assertClean(await run(['replay', file]), [0, 1, 2], `replay of a mutation of ${seed}`);
      }),
      { seed: SEED, numRuns: RUNS ?? 400 },
    );
  });

  it('replay --json and --record end the same way', async () => {
    const file = join(dir, 'json.jsonl');
    const rec = join(dir, 'out.rec.jsonl');
    await fc.assert(
      fc.asyncProperty(mutatedLog(seeds), async ({ seed, bytes }) => {
        writeFileSync(file, bytes);
        const r = await run(['replay', file, '--json', '--record', rec]);
        const input = `replay --json --record of a mutation of ${seed}`;
        expect([0, 1, 2], input).toContain(r.code);
        if (r.code !== 2) expect(() => JSON.parse(r.out) as unknown, input).not.toThrow();
      }),
      { seed: SEED + 1, numRuns: RUNS ?? 150 },
    );
  });

  it('check of a mutated scenario ends in a verdict, a cut-off or one clean line with exit 2', async () => {
    const file = join(dir, 'check.jsonl');
    const scenarios = seeds.filter((s) => s.text.includes('"task"'));
    await fc.assert(
      fc.asyncProperty(mutatedLog(scenarios), async ({ seed, bytes }) => {
        writeFileSync(file, bytes);
        assertClean(await run(['check', '--scenario', file, '--max-states', '300']), [0, 1, 2, 4], `check of a mutation of ${seed}`);
      }),
      { seed: SEED + 2, numRuns: RUNS === undefined ? 60 : Math.ceil(RUNS / 10) },
    );
  });
});

describe('fuzz: scheme files', () => {
  it('a scheme module that exports or throws anything ends in a verdict or one clean line with exit 2', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostileSchemeSource, async (src) => {
        // a new file each time: an ES module is cached by its URL
        n += 1;
        const file = join(dir, `scheme-${n}.mjs`);
        writeFileSync(file, src);
        assertClean(await run(['check', '--scenario', 'map-vs-munmap', '--scheme', file, '--max-states', '50']), [0, 1, 2, 4], `scheme module: ${src.slice(0, 300)}`);
      }),
      { seed: SEED + 3, numRuns: RUNS === undefined ? 40 : Math.ceil(RUNS / 20) },
    );
    expect(readdirSync(dir).filter((f) => f.startsWith('scheme-')).length).toBe(n);
  });
});
