/**
 * The outside world of the CLI: the output streams a command writes to (Io), its exit codes, and
 * the file system side: streaming a log in, writing a file atomically out, the package's root.
 * Nothing below src/cli touches the file system.
 */
import { createReadStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InputError } from '../vocab/errors.js';
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
}

/**
 * Exit codes of SPEC 3: 0 clean, 1 violation or divergence, 2 bad input, 3 a model bug; 4 (check)
 * no violation found but the search was cut off, so nothing is shown to hold.
 */
export const EXIT_CLEAN = 0;
export const EXIT_FOUND = 1;
export const EXIT_INPUT = 2;
export const EXIT_BUG = 3;
export const EXIT_NOT_EXHAUSTED = 4;

/** Streams a log: the header first, then each item, one line in memory at a time. */
export async function streamLog(file: string, onHeader: (h: Header) => void, onItem: (it: LogItem) => void): Promise<void> {
  if (!existsSync(file)) throw new InputError(file, null, null, 'no such file');
  const reader = new LogReader(file);
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let sawHeader = false;
  for await (const line of rl) {
    const it = reader.push(line);
    if (it === null) continue;
    if (it.kind === 'header') {
      sawHeader = true;
      onHeader(it.header);
    } else onItem(it);
  }
  const h = reader.finish();
  if (!sawHeader) onHeader(h);
}

/** Reads a whole log into memory: its header and its items, in order. */
export async function readLog(file: string): Promise<{ header: Header; items: LogItem[] }> {
  let header: Header | undefined;
  const items: LogItem[] = [];
  await streamLog(file, (h) => {
    header = h;
  }, (it) => items.push(it));
  return { header: header!, items };
}

/** Writes a file whole or not at all: a temporary file beside it, then rename. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new InputError(file, null, null, `cannot write: ${(e as Error).message}`);
  }
}

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
