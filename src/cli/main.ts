/**
 * The command line: commands registered from a table (commander parses the arguments), one
 * top-level catch that maps typed errors to exit codes (SPEC 3). The handlers in commands/ do the
 * work; this file only wires them to their names and options.
 */
import { Command, CommanderError } from 'commander';
import { ERRORS, InputError, ModelError } from '../vocab/errors.js';
import { runCheck, type CheckOptions } from './commands/check.js';
import { runDemo, type DemoOptions } from './commands/demo.js';
import { runProperties } from './commands/properties.js';
import { runReplay, type ReplayOptions } from './commands/replay.js';
import { runScenarios } from './commands/scenarios.js';
import { runSchemes } from './commands/schemes.js';
import { EXIT_BUG, EXIT_CLEAN, EXIT_INPUT, type Io } from './io.js';

export type { Io } from './io.js';

interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly default?: string;
  readonly required?: boolean;
}

interface CommandSpec {
  readonly name: string;
  /** The positional arguments, as commander spells them (`<log>`). */
  readonly args?: string;
  readonly description: string;
  readonly options?: readonly OptionSpec[];
  /** Runs the command; returns its exit code. */
  readonly handler: (io: Io, args: readonly string[], options: Record<string, unknown>) => Promise<number> | number;
}

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'replay',
    args: '<log>',
    description: 'fold a log, check every property after every record, report divergences and violations',
    options: [
      { flags: '--json', description: 'one JSON document on stdout' },
      { flags: '--scheme <name|file>', description: "use this scheme instead of the header's" },
      { flags: '--at <seq>', description: 'print the world after record <seq>' },
      { flags: '--why <seq[.id]>', description: 'the chain of causes from a derived record back to its stimulus' },
      { flags: '--record <file>', description: 'write a recording: every stimulus with its outcome, and its derived records' },
      { flags: '--trace', description: "every record's outcome on one line (ret, errno, dma, signal, oops), its derived records below it" },
    ],
    handler: (io, [log], o) => runReplay(io, log!, o as ReplayOptions),
  },
  {
    name: 'check',
    description: 'explore every schedule of a scenario under a scheme, check every property',
    options: [
      { flags: '--scenario <name|file>', description: 'a built-in scenario (iommu-model scenarios) or a log with tasks', required: true },
      { flags: '--scheme <name|file>', description: 'a built-in scheme or a scheme module', default: 'upstream' },
      { flags: '--max-states <n>', description: 'stop after generating this many states, in this run (cut off with no violation: exit 4)', default: '200000' },
      { flags: '--max-memory <size>', description: "stop before the heap holds this much, e.g. 512M or 2G (default: 80% of what node's heap can hold; cut off with no violation: exit 4)" },
      { flags: '--time-limit <s>', description: 'stop after this many seconds' },
      { flags: '--checkpoint <file>', description: 'when a limit cuts the search off, save it to this file (--resume continues it)' },
      { flags: '--resume <checkpoint>', description: 'continue a search saved with --checkpoint (saved again to the same file unless --checkpoint says otherwise)' },
      { flags: '--out <file>', description: 'write the shortest counterexample (of the first violated property) as a log' },
      { flags: '--json', description: 'one JSON document on stdout' },
    ],
    handler: (io, _args, o) => runCheck(io, o as unknown as CheckOptions),
  },
  { name: 'scenarios', description: 'list the built-in scenarios', handler: (io) => runScenarios(io) },
  {
    name: 'demo',
    description: 'every built-in scenario under every built-in scheme: the verdict table, counterexamples in ./iommu-model-out/',
    options: [
      { flags: '--json', description: 'one JSON document on stdout: every verdict and the counterexamples written' },
      { flags: '--markdown', description: 'print the verdict tables as Markdown (for docs/schemes.md)' },
    ],
    handler: (io, _args, o) => runDemo(io, o as DemoOptions),
  },
  { name: 'schemes', description: 'list the built-in schemes', handler: (io) => runSchemes(io) },
  { name: 'properties', description: 'list the properties and what each means', handler: (io) => runProperties(io) },
];

/** The commander program of the table; `ran` receives the exit code of the command that ran. */
function buildProgram(io: Io, ran: (code: number) => void): Command {
  const program = new Command('iommu-model')
    .description('An event-sourced, explorable model of Linux VFIO/IOMMU invalidation')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.args === undefined ? spec.name : `${spec.name} ${spec.args}`).description(spec.description);
    for (const opt of spec.options ?? []) {
      if (opt.required === true) cmd.requiredOption(opt.flags, opt.description);
      else if (opt.default !== undefined) cmd.option(opt.flags, opt.description, opt.default);
      else cmd.option(opt.flags, opt.description);
    }
    // commander passes the positional arguments, then the options, then the command itself.
    cmd.action(async (...params: unknown[]) => {
      ran(await spec.handler(io, params.slice(0, -2) as string[], params[params.length - 2] as Record<string, unknown>));
    });
  }
  return program;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  let code = EXIT_CLEAN;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv.filter((a) => a !== '--debug'), { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_CLEAN : EXIT_INPUT;
    if (e instanceof InputError || e instanceof ModelError) {
      // the catalogue (src/vocab/errors.ts) gives each error its exit code and what to do
      const entry = ERRORS[e.code];
      io.stderr(e instanceof ModelError ? `iommu-model: internal model error (please report with the log): ${e.message}\n` : `iommu-model: ${e.message}\n`);
      if (debug) io.stderr(`${e.stack ?? ''}\n`);
      return entry.exit;
    }
    io.stderr(`iommu-model: ${(e as Error).message}\n`);
    if (debug) io.stderr(`${(e as Error).stack ?? ''}\n`);
    return EXIT_BUG;
  }
}
