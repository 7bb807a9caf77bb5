/**
 * Runs the command line in process, as bin/iommu-model.js does, and keeps what it printed: the
 * helper every CLI test shares. With a Term, output is fitted and coloured as on that terminal;
 * without one, as a library caller gets it (no width limit, no colour).
 */
import { main, type Io } from '../src/cli/main.js';
import type { Term } from '../src/cli/render/term.js';

export interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runCli(argv: readonly string[], term?: Term): Promise<Ran> {
  let out = '';
  let err = '';
  const io: Io = { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, ...(term === undefined ? {} : { term }) };
  const code = await main(argv, io);
  return { code, out, err };
}

/** `runCli` with the arguments spread: `run('replay', file, '--json')`. */
export function run(...argv: string[]): Promise<Ran> {
  return runCli(argv);
}
