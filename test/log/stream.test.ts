/**
 * Reading a log file through the CLI against hostile input (issue 9): the line limit and
 * --max-line, files that cannot be read, bytes that are not UTF-8, nesting that used to
 * overflow the stack, --at's later lines, and one clean line on stderr for every case.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileProblem, lineLimit, parseSize } from '../../src/cli/io.js';
import { InputError } from '../../src/vocab/errors.js';
import { run } from '../cli-run.js';

const EXAMPLE = join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl');
const H = '{"format":"iommu-model/1"}';
const SPAWN = '{"op":"process.spawn","pid":1}';

function tmpFile(content: string | Uint8Array, name = 'log.jsonl'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'iommu-model-hostile-')), name);
  writeFileSync(file, content);
  return file;
}

/** Bad input: exit 2 and exactly one line on stderr, with no stack and no raw control character. */
function expectOneLine(r: { code: number; err: string }, text: string): void {
  expect(r.code).toBe(2);
  expect(r.err).toBe(`iommu-model: ${text}\n`);
}

describe('the line limit', () => {
  it('replay /dev/zero is one input error at line 1, not a RangeError from readline', async () => {
    expectOneLine(await run('replay', '/dev/zero'), '/dev/zero:1: line is longer than 64 MiB (--max-line)');
  });

  it('--max-line sets it: a line of exactly the limit is read, one byte more is not', async () => {
    const line = `{"op":"exit","pid":1,"comment":"${'x'.repeat(100)}"}`;
    const file = tmpFile(`${H}\n${SPAWN}\n${line}\n`);
    expect((await run('replay', file, '--max-line', String(line.length))).code).toBe(0);
    expectOneLine(await run('replay', file, '--max-line', String(line.length - 1)), `${file}:3: line is longer than ${line.length - 1} bytes (--max-line)`);
    expectOneLine(await run('replay', '/dev/zero', '--max-line', '1M'), '/dev/zero:1: line is longer than 1 MiB (--max-line)');
  });

  it('check takes --max-line too', async () => {
    const r = await run('check', '--scenario', 'map-vs-munmap', '--max-line', '8');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^iommu-model: \S+map-vs-munmap\.jsonl:1: line is longer than 8 bytes \(--max-line\)\n$/);
  });

  it.each([
    ['4096', 4096],
    ['64M', 64 * 2 ** 20],
    ['1G', 2 ** 30],
    ['2k', 2048],
  ])('reads the size %s', (v, n) => {
    expect(parseSize(v, '--max-line')).toBe(n);
  });

  it.each(['0', '-1', '1.5M', '64MB', 'x', '', '99999999999999999999G'])('refuses the size %j as bad input', async (v) => {
    const r = await run('replay', EXAMPLE, '--max-line', v);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^iommu-model: <command line>: field '--max-line': expected a size in bytes, or with K, M or G \(like 64M\), got ".*"\n$/);
  });

  it('is never above the longest string Node.js holds, whatever --max-line says', () => {
    expect(lineLimit(2 ** 30)).toEqual({ bytes: 536870888, name: 'the longest string Node.js holds, whatever --max-line says' });
    expect(lineLimit()).toEqual({ bytes: 64 * 2 ** 20, name: '--max-line' });
  });

  it('--help of replay and check shows it', async () => {
    for (const cmd of ['replay', 'check']) expect((await run(cmd, '--help')).out).toContain('--max-line <size>');
  });
});

describe('files that cannot be read', () => {
  it('a directory: `<file>: is a directory`, for replay and check --scenario', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-dir-'));
    expectOneLine(await run('replay', dir), `${dir}: is a directory`);
    expectOneLine(await run('check', '--scenario', dir), `${dir}: is a directory`);
  });

  it('a missing file and a missing directory: `no such file or directory`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-dir-'));
    expectOneLine(await run('replay', join(dir, 'none.jsonl')), `${join(dir, 'none.jsonl')}: no such file or directory`);
    expectOneLine(await run('replay', join(dir, 'no', 'such', 'x.jsonl')), `${join(dir, 'no', 'such', 'x.jsonl')}: no such file or directory`);
  });

  it('a path through a file: `not a directory`', async () => {
    const file = tmpFile(H);
    expect((await run('replay', join(file, 'x.jsonl'))).err).toContain(': not a directory');
  });

  it.each([
    ['EACCES', 'permission denied'],
    ['EPERM', 'permission denied'],
    ['EISDIR', 'is a directory'],
    ['ENOENT', 'no such file or directory'],
    ['EIO', 'cannot read (EIO)'],
  ])('maps %s to one line naming the file (tests run as root, where EACCES cannot be produced)', (code, text) => {
    const e = fileProblem('/x/log.jsonl', Object.assign(new Error('raw'), { code }));
    expect(e).toBeInstanceOf(InputError);
    expect(e!.message).toBe(`/x/log.jsonl: ${text}`);
  });

  it('leaves an error that is not the file system\'s to the caller (a bug stays exit 3)', () => {
    expect(fileProblem('/x', new TypeError('boom'))).toBeNull();
  });
});

describe('hostile records through the CLI', () => {
  it("the campaign's prototype keys exit 2, not 0", async () => {
    const file = tmpFile(`${H}\n{"op":"process.spawn","pid":42}\n{"op":"exit","pid":42,"constructor":{"x":1},"__proto__":1,"toString":"junk"}\n`);
    expectOneLine(await run('replay', file), `${file}:3: field '__proto__': unknown field`);
  });

  it.each([['replay'], ['replay --json'], ['replay --record']])('nesting 6000 deep in an echoed field is exit 2 naming it, not a stack overflow (%s)', async (how) => {
    const file = tmpFile(`${H}\n${SPAWN}\n{"op":"exit","pid":1,"expect":{"out":{"x":${'['.repeat(6000)}${']'.repeat(6000)}}}}\n`);
    const extra = how === 'replay --json' ? ['--json'] : how === 'replay --record' ? ['--record', join(file, '..', 'rec.jsonl')] : [];
    const r = await run('replay', file, ...extra);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^iommu-model: .*:3: field 'expect\.out\.x\[0\]\[0\].*': nested deeper than 64 arrays and objects\n$/);
  });

  it('invalid UTF-8 is exit 2 naming the line', async () => {
    const bytes = Buffer.concat([Buffer.from(`${H}\n{"op":"host.device","device":"a`), Buffer.from([0xff]), Buffer.from('","group":1}\n')]);
    const file = tmpFile(bytes);
    expectOneLine(await run('replay', file), `${file}:2: not valid UTF-8`);
  });

  it('a byte order mark and CRLF line ends replay as the plain file does', async () => {
    const plain = await run('replay', EXAMPLE, '--json');
    const text = readFileSync(EXAMPLE, 'utf8');
    const file = tmpFile(`\ufeff${text.replace(/\n/g, '\r\n')}`);
    const r = await run('replay', file, '--json');
    expect(r.code).toBe(0);
    const strip = (s: string): unknown => ({ ...(JSON.parse(s) as object), log: null });
    expect(strip(r.out)).toEqual(strip(plain.out));
  });

  it('control characters and a huge value in a field give one short line on stderr', async () => {
    const file = tmpFile(`${H}\n${SPAWN}\n{"op":"open","pid":1,"path":"\\u001b[2J\\n${'x'.repeat(100_000)}"}\n`);
    const r = await run('replay', file);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toEqual([expect.any(String), '']);
    expect(r.err).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(r.err).toContain(`:3: field 'path': "\\u001b[2J\\n${'x'.repeat(180)}`);
    expect(r.err).toContain('more characters) is not /dev/vfio/vfio');
    expect(r.err.length).toBeLessThan(400);
  });

  it('a file name with a newline is escaped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-dir-'));
    const file = join(dir, 'a\nb.jsonl');
    writeFileSync(file, `${H}\n{"op":"teleport"}\n`);
    expectOneLine(await run('replay', file), `${join(dir, 'a\\nb.jsonl')}:2: field 'op': unknown op "teleport"`);
  });
});

describe('replay --at N reads on', () => {
  it('a line after N that the reader refuses is exit 2', async () => {
    for (const bad of ['{"op":"exit","pid":1,"colour":1}', '{"op":"exit"', '{"op":"exit","pid":"1"}']) {
      const file = tmpFile(`${H}\n${SPAWN}\n${bad}\n`);
      const r = await run('replay', file, '--at', '2');
      expect(r.code).toBe(2);
      expect(r.err).toContain(`${file}:3: `);
    }
    const long = tmpFile(`${H}\n${SPAWN}\n{"op":"exit","pid":1,"comment":"${'x'.repeat(100)}"}\n`);
    expect((await run('replay', long, '--at', '2', '--max-line', '64')).code).toBe(2);
  });

  it('and folds them too: a record after N that names what the log never declared is exit 2', async () => {
    const file = tmpFile(`${H}\n${SPAWN}\n{"op":"exit","pid":77}\n`);
    const r = await run('replay', file, '--at', '2');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:3: field 'pid'`);
    expect(r.out).toBe('');
  });

  it('and still prints the world at N when the rest is sound, whatever the rest does', async () => {
    const file = tmpFile(`${H}\n${SPAWN}\n{"op":"exit","pid":1}\n`);
    const r = await run('replay', file, '--at', '2');
    expect(r.code).toBe(0);
    expect(r.out).toContain('world after record 2');
    expect(r.out).toMatch(/process 1 \(running\)/);
  });

  it('--help says so', async () => {
    expect((await run('replay', '--help')).out).toMatch(/the whole log is\s+still read,\s+validated\s+and\s+folded/);
  });
});

describe('directories named like logs', () => {
  it('a directory ending in .jsonl is still a directory', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'iommu-model-dir-')), 'x.jsonl');
    mkdirSync(dir);
    expectOneLine(await run('check', '--scenario', dir), `${dir}: is a directory`);
  });
});
