/**
 * `gen --cover <transitions|errnos|paths> [-o dir]` (issue 12): writes the logs that cover every
 * object-machine transition, every ioctl check or every path-machine state, each with the
 * model's own outcomes as expectations (src/run/gen/), to ./iommu-model-gen/ or `dir`, and prints
 * the coverage: N of M covered, and what is not with why. Logs an earlier run of the same
 * criterion wrote and this one did not are removed, so the folder says what the model covers now.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { COVER_KINDS, FILE_PREFIX, generate, isCoverKind } from '../../run/gen/index.js';
import { InputError, showValue } from '../../vocab/errors.js';
import { EXIT_CLEAN, writeAtomic, type Io } from '../io.js';
import { renderGenSummary } from '../render/gen.js';

/** The folder (relative to the working directory) the logs go to without -o. */
export const GEN_DIR = 'iommu-model-gen';

export interface GenOptions {
  cover: string;
  out?: string;
}

export function runGen(io: Io, o: GenOptions): number {
  if (!isCoverKind(o.cover)) throw new InputError('<command line>', null, '--cover', `expected one of ${COVER_KINDS.join(', ')}, got ${showValue(o.cover)}`);
  const dir = o.out ?? join(process.cwd(), GEN_DIR);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new InputError(dir, null, '-o', 'not a directory');
  // every log is built (and checked against the model) before anything is written
  const coverage = generate(o.cover);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new InputError(dir, null, '-o', `cannot create the directory: ${(e as Error).message}`);
  }
  const written = new Set(coverage.logs.map((l) => l.file));
  for (const l of coverage.logs) writeAtomic(join(dir, l.file), l.text);
  const prefix = FILE_PREFIX[o.cover];
  for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith('.jsonl') && !written.has(f)) rmSync(join(dir, f));
  const shown = relative(process.cwd(), dir);
  io.stdout(renderGenSummary(coverage, shown === '' ? '.' : shown.startsWith('..') ? dir : shown));
  return EXIT_CLEAN;
}
