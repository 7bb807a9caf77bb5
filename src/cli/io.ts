/**
 * The file system side of the CLI: streaming a log in, writing a file atomically out.
 * Nothing below src/cli touches the file system.
 */
import { createReadStream, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { InputError } from '../vocab/errors.js';
import { LogReader, type LogItem } from '../log/reader.js';
import type { Header } from '../vocab/records.js';

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
