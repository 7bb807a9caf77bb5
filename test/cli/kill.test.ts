/**
 * The installed command killed while it writes an output file (docs/robustness.md "Output files"):
 * SIGKILL at several points leaves the target with its old content or complete, never torn; the
 * next run removes the temporary files the kills left; SIGINT, SIGTERM and SIGHUP remove the
 * temporary file at once and exit 128 + the signal. The binary runs over a build of this source
 * made in a temporary directory (dist/ may be stale or absent, and other tests run the repo's).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(repo, 'test', 'fixtures', 'spec-example.jsonl');
const OLD = 'an earlier run\n';
let bin = '';
/** Every temporary directory made here, removed at the end (the build and the big logs weigh MBs). */
const made: string[] = [];
const tmp = (what = 'kill'): string => {
  made.push(mkdtempSync(join(tmpdir(), `iommu-model-${what}-`)));
  return made[made.length - 1]!;
};

/** Compiles src into a temporary package (bin, dist, package.json; src and node_modules linked). */
beforeAll(() => {
  const root = tmp('bin');
  execFileSync(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.build.json'), '--outDir', join(root, 'dist')]);
  mkdirSync(join(root, 'bin'));
  copyFileSync(join(repo, 'bin', 'iommu-model.js'), join(root, 'bin', 'iommu-model.js'));
  copyFileSync(join(repo, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  symlinkSync(join(repo, 'src'), join(root, 'src'));
  bin = join(root, 'bin', 'iommu-model.js');
}, 300_000);
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const digest = (file: string): string | null => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null);

interface Ran {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves at the first byte on stdout: the command prints its report after writing its file. */
  reported: Promise<void>;
}

function start(args: string[], stdout: 'pipe' | number = 'pipe'): Ran {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', stdout, 'pipe'] });
  let out = '';
  let err = '';
  const reported = new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return { child, done, reported };
}

/** Waits until `cond` holds or the process has ended. */
async function until(ran: Ran, cond: () => boolean): Promise<void> {
  while (!cond() && ran.child.exitCode === null && ran.child.signalCode === null) await sleep(5);
}

/** The temporary file a run writes `base` in `dir` through. */
const tempOf = (dir: string, base: string, ran: Ran): string => join(dir, `.${base}.iommu-model.${ran.child.pid!}.tmp`);

/** A log of 2 + 2n records: one process maps and unmaps a page n times (a second per 20000 or so). */
function bigLog(n: number): string {
  const lines = [{ format: 'iommu-model/1' }, { op: 'process.spawn', pid: 1 }] as object[];
  for (let i = 0; i < n; i += 1) lines.push({ op: 'mmap', pid: 1, addr: '0x10000000', length: '0x1000' }, { op: 'munmap', pid: 1, addr: '0x10000000', length: '0x1000' });
  const file = join(tmp(), 'big.jsonl');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

/**
 * Runs `args` (which write `base` in `dir`, holding OLD) once per kill point, SIGKILLs it there,
 * then once to the end; every state the target was left in is OLD or the complete output.
 */
async function killAt(points: ReadonlyArray<number | 'temp' | 'reported'>, dir: string, base: string, args: string[], waitForTemp: boolean): Promise<{ left: string[]; temps: number }> {
  const target = join(dir, base);
  writeFileSync(target, OLD);
  const left: Array<string | null> = [];
  let temps = 0;
  for (const point of points) {
    const ran = start(args);
    if (point === 'reported') await ran.reported;
    else {
      if (waitForTemp) await until(ran, () => existsSync(tempOf(dir, base, ran)));
      if (typeof point === 'number') await sleep(point);
    }
    ran.child.kill('SIGKILL');
    await ran.done;
    left.push(digest(target));
    temps += readdirSync(dir).filter((f) => f.endsWith('.tmp')).length > 0 ? 1 : 0;
  }
  const last = await start(args).done;
  expect(last.stderr).toBe('');
  expect(readdirSync(dir)).toEqual([base]); // the next run removed what the kills left
  const complete = digest(target)!;
  const old = createHash('sha256').update(OLD).digest('hex');
  return { left: left.map((d) => (d === old ? 'old' : d === complete ? 'complete' : 'torn')), temps };
}

describe('bin/iommu-model.js killed while writing an output file', () => {
  it('replay --record: SIGKILL at any point leaves the old recording or the whole new one, and the next run sweeps the temporary files', async () => {
    const log = bigLog(10_000);
    const dir = tmp();
    const points = ['temp', 0, 50, 250, 'reported'] as const;
    const { left, temps } = await killAt(points, dir, 'rec.jsonl', ['replay', log, '--record', join(dir, 'rec.jsonl')], true);
    expect(left).not.toContain('torn');
    expect(left[left.length - 1]).toBe('complete');
    expect(left[0]).toBe('old');
    expect(temps).toBeGreaterThan(0);
    const rec = readFileSync(join(dir, 'rec.jsonl'), 'utf8');
    expect(rec.split('\n').filter((l) => l !== '').length).toBeGreaterThan(20_000);
  });

  it('check --out: SIGKILL while exploring or writing leaves the old file or the whole counterexample', async () => {
    const dir = tmp();
    const { left } = await killAt([150, 600, 'reported'], dir, 'cx.jsonl', ['check', '--scenario', 'vm-lifecycle', '--out', join(dir, 'cx.jsonl')], false);
    expect(left).not.toContain('torn');
    expect(left[left.length - 1]).toBe('complete');
    expect(readFileSync(join(dir, 'cx.jsonl'), 'utf8')).toContain('"op":"step"');
  });

  it('SIGINT, SIGTERM and SIGHUP remove the temporary file, keep the old content and exit 128 + the signal', async () => {
    const log = bigLog(10_000);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const dir = tmp();
      const target = join(dir, 'rec.jsonl');
      writeFileSync(target, OLD);
      const ran = start(['replay', log, '--record', target]);
      await until(ran, () => existsSync(tempOf(dir, 'rec.jsonl', ran)));
      ran.child.kill(sig);
      const r = await ran.done;
      expect({ sig, code: r.code, stderr: r.stderr }).toEqual({ sig, code: 128 + constants.signals[sig], stderr: '' });
      expect(readFileSync(target, 'utf8')).toBe(OLD);
      expect(readdirSync(dir)).toEqual(['rec.jsonl']);
    }
  });

  it('--record /dev/stdout writes to its stdout, a pipe or a file it is redirected to, before the report', async () => {
    const piped = await start(['replay', EXAMPLE, '--record', '/dev/stdout']).done;
    expect(piped.code).toBe(0);
    const dir = tmp();
    const file = join(dir, 'out.txt');
    const fd = openSync(file, 'w');
    const redirected = await start(['replay', EXAMPLE, '--record', '/dev/stdout'], fd).done;
    closeSync(fd);
    expect(redirected.code).toBe(0);
    for (const out of [piped.stdout, readFileSync(file, 'utf8')]) {
      expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ format: 'iommu-model/1' });
      expect(out).toMatch(/"op":"exit"[\s\S]*spec-example\.jsonl: 11 records/);
    }
    expect(readdirSync(dir)).toEqual(['out.txt']);
  });
});
