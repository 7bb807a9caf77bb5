/**
 * The outside world of the CLI: the output streams a command writes to (Io), its exit codes, and
 * the file system side: streaming a log in, the package's root (writing a file out is output.ts).
 * Nothing below src/cli touches the file system.
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, showValue } from '../vocab/errors.js';
import { DEFAULT_MAX_LINE, LineSplitter } from '../log/lines.js';
import { LogReader, type LogItem } from '../log/reader.js';
import type { Header } from '../vocab/records.js';
import type { Term } from './render/term.js';

/**
 * Where a command writes: stdout, stderr, whether stderr is a terminal (for progress lines), and
 * the width and colour of stdout (absent: 100 columns, no colour, as for a pipe).
 */
export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  readonly isTTY: boolean;
  readonly term?: Term;
  /**
   * stdout for a document a command writes there (a recording or counterexample to `-` or
   * /dev/stdout): never fitted to the width, unlike `stdout` when main fits text (absent: stdout).
   */
  readonly document?: (s: string) => void;
  /** The lines of stdin, for commands that read commands (`inspect`; absent: process.stdin). */
  readonly stdinLines?: AsyncIterable<string>;
}

/** Where a document goes when a command writes it to stdout. */
export function documentOut(io: Io): (s: string) => void {
  return io.document ?? io.stdout;
}

/**
 * Exit codes (README.md): 0 clean, 1 violation or divergence, 2 bad input, 3 a model bug; 4 (check)
 * no violation found but the search was cut off, so nothing is shown to hold.
 */
export const EXIT_CLEAN = 0;
export const EXIT_FOUND = 1;
export const EXIT_INPUT = 2;
export const EXIT_BUG = 3;
export const EXIT_NOT_EXHAUSTED = 4;

/** How a command reads its log: `maxLine`, the longest line accepted in bytes (`--max-line`). */
export interface ReadOptions {
  readonly maxLine?: number;
}

/**
 * The line limit a command gets: its --max-line, but never above the longest string the
 * runtime can make (V8: 2^29-24 UTF-16 units; a line of that many bytes always fits).
 */
export function lineLimit(maxLine: number = DEFAULT_MAX_LINE): { bytes: number; name: string } {
  const most = bufferConstants.MAX_STRING_LENGTH;
  return maxLine <= most ? { bytes: maxLine, name: '--max-line' } : { bytes: most, name: 'the longest string Node.js holds, whatever --max-line says' };
}

/** `--max-line`'s value: bytes, or with a binary suffix K, M or G (`4096`, `64M`, `1G`). */
export function parseSize(v: string, flag: string): number {
  const m = /^([1-9][0-9]*)([KMG]?)$/i.exec(v);
  const bytes = m === null ? NaN : Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
  if (!Number.isSafeInteger(bytes)) throw new InputError('<command line>', null, flag, `expected a size in bytes, or with K, M or G (like 64M), got ${showValue(v)}`);
  return bytes;
}

/** What a failed open or read of the log means, as one line naming it (exit 2), or null. */
export function fileProblem(file: string, e: unknown): InputError | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return null;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EISDIR: 'is a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOTDIR: 'not a directory (a component of the path is a file)',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'file name too long',
  };
  return new InputError(file, null, null, Object.hasOwn(why, code) ? why[code]! : `cannot read (${code})`);
}

/**
 * Reads a whole file that is not a log (a checkpoint) as UTF-8 text, failing as one line naming
 * it: a file-system error as fileProblem says, and a file longer than the longest string Node.js
 * holds (`/dev/zero`) once `most` bytes are read, instead of growing until the heap is gone.
 */
export function readText(file: string, most: number = bufferConstants.MAX_STRING_LENGTH): string {
  const chunks: Buffer[] = [];
  let total = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    if (fstatSync(fd).isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, most + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > most) throw new InputError(file, null, null, `longer than ${most} bytes${most === bufferConstants.MAX_STRING_LENGTH ? ', the longest string Node.js holds' : ''}`);
    }
  } catch (e) {
    throw e instanceof InputError ? e : (fileProblem(file, e) ?? e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/**
 * Streams a log: the header first, then each item. The file is read as bytes and split into
 * lines by LineSplitter, so no more than one line (at most the line limit) is in memory.
 */
export async function streamLog(file: string, onHeader: (h: Header) => void, onItem: (it: LogItem) => void, options: ReadOptions = {}): Promise<void> {
  const reader = new LogReader(file);
  const limit = lineLimit(options.maxLine);
  const lines = new LineSplitter(file, limit.bytes, limit.name);
  const stream = createReadStream(file);
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let sawHeader = false;
  const take = (bytes: Uint8Array): void => {
    const it = reader.pushBytes(bytes);
    if (it === null) return;
    if (it.kind === 'header') {
      sawHeader = true;
      onHeader(it.header);
    } else onItem(it);
  };
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw fileProblem(file, e) ?? e;
      }
      if (next.done === true) break;
      for (const line of lines.push(next.value)) take(line);
    }
    const last = lines.finish();
    if (last !== null) take(last);
  } finally {
    stream.destroy();
  }
  const h = reader.finish();
  if (!sawHeader) onHeader(h);
}

/** Reads a whole log into memory: its header and its items, in order. */
export async function readLog(file: string, options: ReadOptions = {}): Promise<{ header: Header; items: LogItem[] }> {
  let header: Header | undefined;
  const items: LogItem[] = [];
  await streamLog(file, (h) => {
    header = h;
  }, (it) => items.push(it), options);
  return { header: header!, items };
}

/** Writes a file whole or not at all (src/cli/output.ts: FIFOs, devices, symlinks, modes, kills). */
export { writeAtomic } from './output.js';

/** The package's root (where package.json named iommu-model is), from compiled or source code. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'iommu-model') return dir;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('cannot find the iommu-model package root');
    dir = up;
  }
}
