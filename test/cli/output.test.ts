/**
 * The output writer (src/cli/output.ts, docs/robustness.md "Output files"): `-`, FIFOs, devices
 * and symlinks are written through; a regular file is replaced whole, keeping its mode (and, as
 * root, its owner); failures are one line naming the file, with exit 2 and nothing left behind.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/commands/demo.js';
import { openOutput, writeAtomic } from '../../src/cli/output.js';
import { upstream } from '../../src/schemes/scheme.js';
import { run } from '../cli-run.js';

const EXAMPLE = join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl');

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-out-'));

/** A valid log of 2 + 2n records (a process maps and unmaps n times), then `tail` if given. */
function longLog(dir: string, n: number, tail?: string): string {
  const lines = [{ format: 'iommu-model/1' }, { op: 'process.spawn', pid: 1 }];
  for (let i = 0; i < n; i += 1) {
    lines.push({ op: 'mmap', pid: 1, addr: '0x10000000', length: '0x1000' } as never, { op: 'munmap', pid: 1, addr: '0x10000000', length: '0x1000' } as never);
  }
  const file = join(dir, 'long.jsonl');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n${tail === undefined ? '' : `${tail}\n`}`);
  return file;
}

/** The one line on stderr a refused output gives, and that nothing is left in `dir`. */
async function refused(file: string, detail: RegExp): Promise<void> {
  const r = await run('replay', EXAMPLE, '--record', file);
  expect(r.code).toBe(2);
  expect(r.err.split('\n').filter((l) => l !== '')).toHaveLength(1);
  expect(r.err).toMatch(new RegExp(`^iommu-model: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot write: `));
  expect(r.err).toMatch(detail);
  expect(r.out).toBe('');
}

describe('the output writer', () => {
  it('writes - to the command\'s stdout, before the report', async () => {
    const r = await run('replay', EXAMPLE, '--record', '-');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'iommu-model/1' });
    expect(r.out.indexOf('"op":"host.device"')).toBeLessThan(r.out.indexOf('records,'));
    let sunk = '';
    writeAtomic('-', 'x\n', (s) => (sunk += s));
    expect(sunk).toBe('x\n');
  });

  it('creates a new file with the mode a plain create gives, and replaces a file keeping its mode and (as root) owner', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'plain'), '');
    writeAtomic(join(dir, 'new'), 'new\n');
    expect(readFileSync(join(dir, 'new'), 'utf8')).toBe('new\n');
    expect(statSync(join(dir, 'new')).mode).toBe(statSync(join(dir, 'plain')).mode);

    const old = join(dir, 'secret');
    writeFileSync(old, 'old\n');
    chmodSync(old, 0o600);
    const root = process.geteuid?.() === 0;
    if (root) chownSync(old, 12345, 23456);
    writeAtomic(old, 'replaced\n');
    expect(readFileSync(old, 'utf8')).toBe('replaced\n');
    const st = statSync(old);
    expect(st.mode & 0o7777).toBe(0o600);
    expect([st.uid, st.gid]).toEqual(root ? [12345, 23456] : [process.getuid!(), process.getgid!()]);
    expect(readdirSync(dir).sort()).toEqual(['new', 'plain', 'secret']);
  });

  it('writes to what a symlink points to, a dangling one included, and keeps the link', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'target'), 'old\n');
    symlinkSync('target', join(dir, 'link'));
    writeAtomic(join(dir, 'link'), 'through the link\n');
    expect(lstatSync(join(dir, 'link')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('through the link\n');

    symlinkSync(join(dir, 'later'), join(dir, 'dangling'));
    writeAtomic(join(dir, 'dangling'), 'made\n');
    expect(readlinkSync(join(dir, 'dangling'))).toBe(join(dir, 'later'));
    expect(readFileSync(join(dir, 'later'), 'utf8')).toBe('made\n');
    expect(readdirSync(dir).sort()).toEqual(['dangling', 'later', 'link', 'target']);
  });

  it('writes through to a FIFO, which stays a FIFO', async () => {
    const dir = tmp();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    reader.stdout.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise((resolve) => reader.on('close', resolve));
    writeAtomic(fifo, 'to the reader\n');
    await closed;
    expect(got).toBe('to the reader\n');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir)).toEqual(['fifo']);
  });

  it('writes through to a character device: /dev/null stays one, /dev/full is exit 2 naming it (ENOSPC)', async () => {
    expect((await run('replay', EXAMPLE, '--record', '/dev/null')).code).toBe(0);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    await refused('/dev/full', /no space left on device \(ENOSPC\)$/m);
    expect(statSync('/dev/full').isCharacterDevice()).toBe(true);
  });

  it('refuses a missing directory, a directory and a directory it may not write, with exit 2 and one line', async () => {
    const dir = tmp();
    await refused(join(dir, 'no', 'such', 'rec.jsonl'), /no such directory/);
    await refused(dir, /is a directory \(EISDIR\)/);
    await refused(join(dir, 'not-yet/'), /is a directory \(EISDIR\)/);
    await refused('/sys/iommu-model-rec.jsonl', /permission denied|read-only file system/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes the temporary files of dead processes (and of its own pid) in the directory it writes, not of live ones', () => {
    const dir = tmp();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const names = {
      dead: `.rec.jsonl.iommu-model.${dead}.tmp`,
      mine: `.other.iommu-model.${process.pid}.tmp`,
      live: `.rec.jsonl.iommu-model.${process.ppid}.tmp`,
      unrelated: 'notes.tmp',
    };
    for (const n of Object.values(names)) writeFileSync(join(dir, n), 'partial');
    writeAtomic(join(dir, 'rec.jsonl'), 'whole\n');
    expect(readdirSync(dir).sort()).toEqual([names.live, names.unrelated, 'rec.jsonl'].sort());
  });

  it('streams a recording through one temporary file and renames it at the end', () => {
    const dir = tmp();
    const out = openOutput(join(dir, 'big'));
    const line = `${'x'.repeat(999)}\n`;
    for (let i = 0; i < 200; i += 1) out.write(line);
    const temps = readdirSync(dir);
    expect(temps).toEqual([`.big.iommu-model.${process.pid}.tmp`]);
    expect(statSync(join(dir, temps[0]!)).size).toBeGreaterThan(0); // flushed as it went
    out.close();
    expect(readdirSync(dir)).toEqual(['big']);
    expect(readFileSync(join(dir, 'big'), 'utf8')).toBe(line.repeat(200));
  });

  it('leaves the old recording and no temporary file when the log is bad input at its last line', async () => {
    const dir = tmp();
    const log = longLog(dir, 600, '{"op":"teleport"}');
    const rec = join(dir, 'rec.jsonl');
    writeFileSync(rec, 'old recording\n');
    const r = await run('replay', log, '--record', rec);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/long\.jsonl:1203/);
    expect(readFileSync(rec, 'utf8')).toBe('old recording\n');
    expect(readdirSync(dir).sort()).toEqual(['long.jsonl', 'rec.jsonl']);
  });

  it('demo: an iommu-model-out that is a file is exit 2 naming it', async () => {
    const cwd = process.cwd();
    const dir = tmp();
    process.chdir(dir);
    try {
      writeFileSync('iommu-model-out', 'not a directory');
      const io = { stdout: () => undefined, stderr: () => undefined, isTTY: false };
      await expect(runDemo(io, { json: true }, { schemes: [upstream], scenarios: ['zap-vs-p2p-map'] })).rejects.toThrow(/^iommu-model-out: cannot write: .*EEXIST/);
      expect(readFileSync('iommu-model-out', 'utf8')).toBe('not a directory');
    } finally {
      process.chdir(cwd);
    }
    expect(existsSync(join(dir, 'iommu-model-out'))).toBe(true);
  });

  it('demo: an --out-dir that is a file is exit 2 naming that file, not the default folder', async () => {
    const file = join(tmp(), 'cx');
    writeFileSync(file, 'not a directory');
    const io = { stdout: () => undefined, stderr: () => undefined, isTTY: false };
    await expect(runDemo(io, { json: true, outDir: file }, { schemes: [upstream], scenarios: ['zap-vs-p2p-map'] })).rejects.toThrow(new RegExp(`^${file}: cannot write: .*EEXIST`));
    expect(readFileSync(file, 'utf8')).toBe('not a directory');
  });
});
