/**
 * The command line: commands registered from a table (commander parses the arguments), one
 * top-level catch that maps typed errors to exit codes (README.md). The handlers in commands/ do the
 * work; this file only wires them to their names and options.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ERRORS, InputError, ModelError, oneLine } from '../vocab/errors.js';
import type { CheckOptions } from './commands/check.js';
import type { DemoOptions } from './commands/demo.js';
import type { MergeOptions } from './commands/merge.js';
import type { GenOptions } from './commands/gen.js';
import { IMPORT_KINDS, runImport, type ImportOptions } from './commands/import.js';
import type { ReplayOptions } from './commands/replay.js';
import type { ReportOptions } from './commands/report.js';
import type { InspectOptions } from './commands/inspect.js';
import type { LockdepOptions } from './commands/lockdep.js';
import { runCompletion, type CompletionCommand } from './commands/completion.js';
import { EXIT_BUG, EXIT_CLEAN, EXIT_INPUT, packageRoot, type Io } from './io.js';
import { fit, PLAIN } from './render/term.js';

export type { Io } from './io.js';

interface OptionSpec {
  readonly flags: string;
  readonly description: string;
  readonly default?: string;
  readonly required?: boolean;
  /** Options this one cannot be given with (their attribute names: `why`, `record`): exit 2. */
  readonly conflicts?: readonly string[];
}

interface CommandSpec {
  readonly name: string;
  /** The positional arguments, as commander spells them (`<log>`). */
  readonly args?: string;
  readonly description: string;
  readonly options?: readonly OptionSpec[];
  /** Command lines that run as shown from a clone of the repo, for --help. */
  readonly examples: readonly string[];
  /** The exit codes and what each means, for --help. */
  readonly exits: readonly string[];
  /** Its stdout is a document (a script), never fitted to the width. */
  readonly document?: true;
  /** Runs the command; returns its exit code. */
  readonly handler: (io: Io, args: readonly string[], options: Record<string, unknown>) => Promise<number> | number;
}

/** Every command that reads a log takes it (docs/log-format.md, "Reading a log, and its limits"). */
const MAX_LINE: OptionSpec = { flags: '--max-line <size>', description: 'the longest log line accepted, in bytes or with K, M, G (a longer one is bad input)', default: '64M' };

/** How --scheme finds its scheme (src/cli/resolve.ts loadScheme). */
const SCHEME_LOOKUP = 'a name is looked up among the built-in schemes (iommu-model schemes) first, then as the path of a scheme module (.ts, .mts, .cts, .js, .mjs, .cjs), from the current directory when relative';

const EXIT_INTERNAL = '3  an internal model error (a bug in iommu-model: please report it with the log)';
const EXIT_BAD_INPUT = '2  bad input: one line on stderr names the file, line and field';

const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'replay',
    args: '<log>',
    description: 'fold a log, check every property after every record, report divergences and violations',
    options: [
      { flags: '--json', description: 'one JSON document on stdout' },
      { flags: '--scheme <name|file>', description: `instead of the log header's scheme (absent: upstream); ${SCHEME_LOOKUP}` },
      { flags: '--at <seq>', description: 'print the world after record <seq>; the whole log is still read, validated and folded (a bad record anywhere: exit 2)', conflicts: ['why', 'record', 'trace'] },
      { flags: '--why <seq[.id]>', description: 'the chain of causes from a derived record back to its stimulus', conflicts: ['record', 'trace'] },
      { flags: '--record <file>', description: 'write a recording: every stimulus with its outcome, and its derived records' },
      { flags: '--trace', description: "every record's outcome on one line (ret, errno, dma, signal, oops), its derived records below it" },
      { flags: '--diff <seq...>', description: 'what changed between the states after records <a> and <b>, object by object (docs/navigation.md)', conflicts: ['at', 'why', 'record', 'trace', 'grep', 'follow'] },
      { flags: '--grep <query>', description: 'the records touching iova=, vaddr=, pasid=, device= or lock=; with @<seq>, the state after that record (lock=memory_lock@812: who held it)', conflicts: ['at', 'why', 'record', 'trace', 'follow'] },
      { flags: '--follow <object>', description: "one object's lifecycle (vfio_dma:5@0x0, device:0000:01:00.0, lock:...): a line per record that changed it", conflicts: ['at', 'why', 'record', 'trace'] },
      MAX_LINE,
    ],
    examples: [
      'npx iommu-model replay test/fixtures/vm-lifecycle.jsonl',
      'npx iommu-model replay test/fixtures/spec-example.jsonl --at 9',
      'npx iommu-model replay test/fixtures/spec-example.jsonl --why 11.14',
      'npx iommu-model replay test/fixtures/bar-p2p-disable.jsonl --trace',
      'npx iommu-model replay test/fixtures/spec-example.jsonl --record recording.jsonl',
      'npx iommu-model replay test/fixtures/vm-lifecycle.jsonl --diff 9 12',
      'npx iommu-model replay test/fixtures/vm-lifecycle.jsonl --grep iova=0x1000',
      'npx iommu-model replay test/fixtures/races/exit-waits-for-map.jsonl --grep lock=mmap_lock@16',
      'npx iommu-model replay test/fixtures/vm-lifecycle.jsonl --follow vfio_dma:5@0x0',
    ],
    exits: ['0  clean: no violation, no divergence from an expect', '1  a property violation or a divergence', EXIT_BAD_INPUT, EXIT_INTERNAL],
    handler: async (io, [log], o) => (await import('./commands/replay.js')).runReplay(io, log!, o as unknown as ReplayOptions),
  },
  {
    name: 'report',
    args: '<log>',
    description: 'replay a log and write one self-contained HTML page of it: timeline, IOVA maps, lifecycles, cause chains, findings (docs/report.md)',
    options: [
      { flags: '-o, --out <file.html>', description: 'where to write the page (- for stdout)', required: true },
      { flags: '--scheme <name|file>', description: `instead of the log header's scheme (absent: upstream); ${SCHEME_LOOKUP}` },
      MAX_LINE,
    ],
    examples: [
      'npx iommu-model report test/fixtures/vm-lifecycle.jsonl -o vm-lifecycle.html',
      'npx iommu-model check --scenario mdev-unmap-vs-unmap --out cx.jsonl',
      'npx iommu-model report cx.jsonl -o cx.html',
    ],
    exits: ['0  the page is written (whatever the replay found: the page shows it)', EXIT_BAD_INPUT, EXIT_INTERNAL],
    document: true,
    handler: async (io, [log], o) => (await import('./commands/report.js')).runReport(io, log!, o as unknown as ReportOptions),
  },
  {
    name: 'inspect',
    args: '<log>',
    description: 'build the timeline of a log, then answer commands from stdin: at, next, prev, diff, grep, follow, why, world (docs/navigation.md)',
    options: [{ flags: '--scheme <name|file>', description: `instead of the log header's scheme (absent: upstream); ${SCHEME_LOOKUP}` }, MAX_LINE],
    examples: [
      'npx iommu-model inspect test/fixtures/vm-lifecycle.jsonl',
      "printf 'at 19\\nprev\\nfollow vfio_dma:5@0x0\\n' | npx iommu-model inspect test/fixtures/vm-lifecycle.jsonl",
      "echo 'grep lock=memory_lock@21' | npx iommu-model inspect test/fixtures/races/p2p-dma-after-zap.jsonl",
    ],
    exits: ['0  stdin ended or quit (a bad command prints an error line and the session goes on)', EXIT_BAD_INPUT, EXIT_INTERNAL],
    handler: async (io, [log], o) => (await import('./commands/inspect.js')).runInspect(io, log!, o as unknown as InspectOptions),
  },
  {
    name: 'check',
    description: 'explore every schedule of a scenario under a scheme, check every property',
    options: [
      { flags: '--scenario <name|file>', description: 'a built-in scenario (iommu-model scenarios) or a log with tasks', required: true },
      { flags: '--scheme <name|file>', description: `instead of the scenario header's scheme (absent: upstream); ${SCHEME_LOOKUP}` },
      { flags: '--max-states <n>', description: 'stop after generating this many states, in this run (cut off with no violation: exit 4)', default: '200000' },
      { flags: '--max-memory <size>', description: "stop before the heap holds this much, e.g. 512M or 2G (default: 80% of what node's heap can hold; cut off with no violation: exit 4)" },
      { flags: '--time-limit <s>', description: 'stop after this many seconds' },
      { flags: '--checkpoint <file>', description: 'when a limit cuts the search off, save it to this file (--resume continues it)' },
      { flags: '--resume <checkpoint>', description: 'continue a search saved with --checkpoint (saved again to the same file unless --checkpoint says otherwise)' },
      { flags: '--out <file>', description: 'write the shortest counterexample (of the first violated property) as a log' },
      { flags: '--reduction', description: 'partial-order reduction by sleep sets: the same states and verdicts, fewer transitions, but slower today (docs/concurrency.md)', conflicts: ['shard', 'workers', 'swarm'] },
      { flags: '--no-reduction', description: 'step every enabled task of every state (the default)' },
      { flags: '--symmetry', description: 'merge states equal up to vfio_dma ids and RAM addresses: the same verdicts and counterexample lengths, fewer states (docs/concurrency.md, Symmetry)', conflicts: ['reduction', 'checkpoint', 'resume', 'shard', 'workers', 'swarm'] },
      { flags: '--json', description: 'one JSON document on stdout' },
      { flags: '--shard <k/n>', description: "explore shard k of n of the search (docs/scale-out.md); with --json its report for merge; exit 0 once printed: the verdicts are merge's", conflicts: ['checkpoint', 'resume', 'out', 'workers', 'swarm'] },
      { flags: '--shard-depth <d>', description: 'split the search at this depth (default: the first layer with at least 4n nodes)' },
      { flags: '--workers <n>', description: `explore on n worker threads (the search in 16 shards, merged: the same verdicts and counterexamples for every n; today slower than one process: the shards repeat work, docs/scale-out.md)`, conflicts: ['checkpoint', 'resume', 'swarm'] },
      { flags: '--swarm <k/n>', description: 'run k of n bounded randomised searches (seeded by k and n; never exhaustive: exit 4 when nothing is found); with --json its report for merge', conflicts: ['checkpoint', 'resume'] },
      MAX_LINE,
    ],
    examples: [
      'npx iommu-model check --scenario map-vs-munmap',
      'npx iommu-model check --scenario map-vs-munmap --reduction',
      'npx iommu-model check --scenario msi-window --scheme msi-reserved-iova-rfc --symmetry',
      'npx iommu-model check --scenario zap-vs-p2p-map --shard 2/3 --json',
      'npx iommu-model check --scenario sva-bind-pasid-exhausted --workers 2',
      'npx iommu-model check --scenario mdev-unmap-vs-unmap --out cx.jsonl',
      'npx iommu-model check --scenario mdev-unmap-vs-unmap --scheme mdev-notify-unlocked',
      'npx iommu-model check --scenario exit-vs-map --scheme test/fixtures/schemes/interval-notifier.mjs',
    ],
    exits: ['0  every property holds: the search was exhausted', '1  a violation (with --out, its shortest counterexample replays to it)', EXIT_BAD_INPUT, EXIT_INTERNAL, '4  cut off before any violation was found: nothing is shown to hold'],
    handler: async (io, _args, o) => (await import('./commands/check.js')).runCheck(io, o as unknown as CheckOptions),
  },
  {
    name: 'merge',
    args: '<report.json...>',
    description: 'combine the reports of check --shard k/n (or --swarm k/n) runs into one report: the same verdicts and shortest counterexample as one run',
    options: [
      { flags: '--out <file>', description: 'write the shortest counterexample (of the first violated property) as a log' },
      { flags: '--json', description: 'one JSON document on stdout, as check --json' },
      { flags: '--scenario <name|file>', description: 'the scenario file, when it is not where the shards named it (its sha256 must match)' },
      MAX_LINE,
    ],
    examples: [
      'for k in 1 2 3; do npx iommu-model check --scenario zap-vs-p2p-map --shard $k/3 --json > shard-$k.json; done',
      'npx iommu-model merge shard-1.json shard-2.json shard-3.json --out cx.jsonl',
    ],
    exits: ['0  every property holds: every shard was exhausted', '1  a violation (with --out, its shortest counterexample replays to it)', EXIT_BAD_INPUT + ' (a missing or duplicate shard, reports of different searches)', EXIT_INTERNAL, '4  a shard was cut off (or the reports are of swarm runs) and no violation was found'],
    handler: async (io, files, o) => (await import('./commands/merge.js')).runMerge(io, files.flat(), o as unknown as MergeOptions),
  },
  {
    name: 'lockdep',
    args: '<splat>',
    description: 'relate a lockdep report (dmesg, journal or mail text) to the model\'s lock graph: is its cycle in the model under the scheme, through which kernel paths, in which scenario',
    options: [
      { flags: '--scheme <name|file>', description: `the scheme whose lock graph to build (absent: upstream); ${SCHEME_LOOKUP}` },
      { flags: '--max-states <n>', description: 'explore each built-in scenario up to this many states', default: '20000' },
      { flags: '--json', description: 'one JSON document on stdout' },
    ],
    examples: [
      'npx iommu-model lockdep test/fixtures/lockdep/synthetic-mdev-device-list-lock.txt',
      'npx iommu-model lockdep test/fixtures/lockdep/synthetic-mdev-device-list-lock.txt --scheme mdev-notify-unlocked',
      'npx iommu-model lockdep test/fixtures/lockdep/kvm-irqbypass-memory-lock-2020.txt --json',
    ],
    exits: ['0  found: every dependency of the report\'s cycle is in the model\'s graph', '1  not found: a dependency is missing, a class is not modelled, or the report is not a cycle', EXIT_BAD_INPUT + ' (or the text holds no lockdep report)', EXIT_INTERNAL],
    handler: async (io, [splat], o) => (await import('./commands/lockdep.js')).runLockdep(io, splat!, o as unknown as LockdepOptions),
  },
  {
    name: 'scenarios',
    description: 'list the built-in scenarios',
    examples: ['npx iommu-model scenarios'],
    exits: ['0'],
    handler: async (io) => (await import('./commands/scenarios.js')).runScenarios(io),
  },
  {
    name: 'demo',
    description: 'every built-in scenario under every built-in scheme: the verdict table, counterexamples in ./iommu-model-out/',
    options: [
      { flags: '--json', description: 'one JSON document on stdout: every verdict and the counterexamples written', conflicts: ['markdown'] },
      { flags: '--markdown', description: 'print the verdict tables as Markdown (for docs/schemes.md)' },
      { flags: '--out-dir <dir>', description: 'write the counterexamples here', default: 'iommu-model-out' },
    ],
    examples: ['npx iommu-model demo', 'npx iommu-model demo --out-dir /tmp/cx', 'npx iommu-model demo --markdown'],
    exits: ['0  every verdict is the one its scheme documents', '1  some verdict differs from its scheme\'s documentation', EXIT_BAD_INPUT, EXIT_INTERNAL],
    handler: async (io, _args, o) => (await import('./commands/demo.js')).runDemo(io, o as DemoOptions),
  },
  {
    name: 'gen',
    description: "write logs whose expectations are the model's outcomes, covering every transition, ioctl check or path state, to test another implementation against (docs/model-based-testing.md)",
    options: [
      { flags: '--cover <transitions|errnos|paths>', description: 'what the logs cover: every object-machine transition, every check of every ioctl, or every path-machine state', required: true },
      { flags: '-o, --out <dir>', description: 'where to write the logs (default ./iommu-model-gen/)' },
    ],
    examples: ['npx iommu-model gen --cover errnos -o gen-errnos', 'npx iommu-model gen --cover transitions'],
    exits: ['0  every log written (the summary names what no log covers, and why)', EXIT_BAD_INPUT, EXIT_INTERNAL],
    handler: async (io, _args, o) => (await import('./commands/gen.js')).runGen(io, o as unknown as GenOptions),
  },
  {
    name: 'import',
    args: '<kind> <file>',
    description: `turn a trace a real machine produced into a log to replay (docs/importers.md); kinds: ${Object.entries(IMPORT_KINDS).map(([k, v]) => `${k}, ${v.reads}`).join('; ')}`,
    options: [{ flags: '-o, --out <file>', description: 'write the log here (default: stdout; - is stdout); the summary goes to stderr' }, MAX_LINE],
    examples: [
      'npx iommu-model import qemu-trace test/fixtures/qemu-trace/overlap-einval.trace -o overlap.jsonl',
      'npx iommu-model replay overlap.jsonl',
      'npx iommu-model import ftrace test/fixtures/ftrace/ath12k-use-after-unmap.trace -o ath12k.jsonl',
    ],
    exits: ['0  imported: the summary on stderr says what was skipped and assumed, and (ftrace) where the trace and the model part ways; replay the log for its divergences', EXIT_BAD_INPUT, EXIT_INTERNAL],
    handler: (io, [kind, file], o) => runImport(io, kind!, file!, o as unknown as ImportOptions),
  },
  {
    name: 'schemes',
    description: 'list the built-in schemes',
    examples: ['npx iommu-model schemes'],
    exits: ['0'],
    handler: async (io) => (await import('./commands/schemes.js')).runSchemes(io),
  },
  {
    name: 'properties',
    description: 'list the properties and what each means',
    examples: ['npx iommu-model properties'],
    exits: ['0'],
    handler: async (io) => (await import('./commands/properties.js')).runProperties(io),
  },
  {
    name: 'completion',
    args: '<shell>',
    description: 'print a completion script for bash or zsh',
    examples: ['eval "$(npx iommu-model completion bash)"', 'npx iommu-model completion zsh > ~/.zfunc/_iommu-model'],
    exits: ['0', '2  a shell other than bash or zsh'],
    document: true,
    handler: (io, [shell]) => runCompletion(io, shell!, completionCommands()),
  },
];

/** The commands and their flags, as the completion scripts offer them. */
function completionCommands(): CompletionCommand[] {
  return COMMANDS.map((c) => ({
    name: c.name,
    description: c.description,
    flags: (c.options ?? []).map((o) => ({ flag: o.flags.split(' ')[0]!, takesValue: o.flags.includes('<'), description: o.description })),
  }));
}

/** The package's version, from its package.json. */
function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** What --help prints after a command's options: examples that run as shown, and the exit codes. */
function helpAfter(spec: CommandSpec): string {
  return `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}\n\nExit codes:\n${spec.exits.map((e) => `  ${e}`).join('\n')}\n`;
}

/** Whether a command's stdout is text for a person (fitted to the width) rather than a document. */
function printsText(o: Record<string, unknown>): boolean {
  return o['json'] !== true && o['markdown'] !== true;
}

/** The commander program of the table; `ran` receives the exit code of the command that ran. */
function buildProgram(io: Io, ran: (code: number) => void): Command {
  const width = (io.term ?? PLAIN).width;
  const program = new Command('iommu-model')
    .description('An event-sourced, explorable model of Linux VFIO/IOMMU invalidation')
    .version(version(), '-V, --version', 'print the version')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureHelp(Number.isFinite(width) ? { helpWidth: width } : {})
    // commander's own errors (an unknown option, conflicting flags) read as every other error does
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s), outputError: (s, write) => write(`iommu-model: ${s.replace(/^error: /, '')}`) })
    .addHelpText('after', `\nExamples:\n  npx iommu-model demo\n  npx iommu-model replay test/fixtures/vm-lifecycle.jsonl\n  npx iommu-model check --scenario map-vs-munmap\n  npx iommu-model help check\n\nExit codes: 0 clean, 1 a violation or divergence, 2 bad input, 3 an internal model error,\n4 (check) cut off before any violation was found. Each command's --help says which it uses.\n`);
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.args === undefined ? spec.name : `${spec.name} ${spec.args}`).description(spec.description);
    for (const opt of spec.options ?? []) {
      const option = new Option(opt.flags, opt.description);
      if (opt.required === true) option.makeOptionMandatory();
      if (opt.default !== undefined) option.default(opt.default);
      if (opt.conflicts !== undefined) option.conflicts([...opt.conflicts]);
      cmd.addOption(option);
    }
    cmd.addHelpText('after', helpAfter(spec));
    // commander passes the positional arguments, then the options, then the command itself.
    cmd.action(async (...params: unknown[]) => {
      const options = params[params.length - 2] as Record<string, unknown>;
      const out = spec.document !== true && Number.isFinite(width) && printsText(options) ? { ...io, stdout: (s: string) => io.stdout(fit(s, width)), document: io.stdout } : io;
      ran(await spec.handler(out, params.slice(0, -2) as string[], options));
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
  // With --json, an error is also a JSON document on stdout, so that a program reading stdout sees it.
  const json = argv.includes('--json');
  const jsonError = (code: string, exit: number, message: string, where?: InputError): void => {
    if (!json) return;
    const at = where === undefined ? {} : { file: where.file, line: where.line, field: where.field };
    io.stdout(`${JSON.stringify({ error: { code, exit, message, ...at } })}\n`);
  };
  try {
    await program.parseAsync(argv.filter((a) => a !== '--debug'), { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT_CLEAN; // --help, --version
      jsonError('usage', EXIT_INPUT, e.message.replace(/^error: /, ''));
      return EXIT_INPUT;
    }
    if (e instanceof InputError || e instanceof ModelError) {
      // the catalogue (src/vocab/errors.ts) gives each error its exit code and what to do
      const entry = ERRORS[e.code];
      io.stderr(e instanceof ModelError ? `iommu-model: internal model error (please report with the log): ${e.message}\n` : `iommu-model: ${e.message}\n`);
      jsonError(e.code, entry.exit, e.message, e instanceof InputError ? e : undefined);
      if (debug) io.stderr(`${e.stack ?? ''}\n`);
      return entry.exit;
    }
    // Anything else is a bug of the tool, exit 3, whatever its class: input reaches no RangeError
    // or TypeError any more (the reader bounds lines, depth, u64 text and echoes), so mapping
    // those to exit 2 would only hide a real bug.
    const message = oneLine(e instanceof Error ? e.message : String(e));
    io.stderr(`iommu-model: ${message}\n`);
    jsonError('internal', EXIT_BUG, message);
    if (debug) io.stderr(`${e instanceof Error ? (e.stack ?? '') : ''}\n`);
    return EXIT_BUG;
  }
}
