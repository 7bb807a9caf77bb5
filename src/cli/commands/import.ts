/**
 * `iommu-model import <kind> <file>`: turn another tool's trace into a log (docs/importers.md).
 * Each kind is one row of IMPORTERS: it reads the file, writes the log (to --out, else stdout) and
 * reports what it found; the report goes to stderr when the log goes to stdout.
 */
import { InputError, showValue } from '../../vocab/errors.js';
import { parseFtrace } from '../../import/ftrace.js';
import { ftraceToLog, logText } from '../../import/ftrace-log.js';
import { checkImportedTrace } from '../../run/trace-check.js';
import { documentOut, EXIT_CLEAN, EXIT_FOUND, parseSize, readText, type Io } from '../io.js';
import { isStdout, writeAtomic } from '../output.js';
import { formatSize } from '../../log/lines.js';

export interface ImportOptions {
  readonly out?: string;
  readonly maxLine?: string;
}

type Importer = (io: Io, file: string, options: ImportOptions, say: (s: string) => void) => number;

const IMPORTERS: Readonly<Record<string, Importer>> = {
  ftrace: importFtrace,
};

export const IMPORT_KINDS = Object.keys(IMPORTERS);

export function runImport(io: Io, kind: string, file: string, options: ImportOptions): number {
  const importer = Object.hasOwn(IMPORTERS, kind) ? IMPORTERS[kind] : undefined;
  if (importer === undefined) throw new InputError('<command line>', null, 'kind', `unknown importer ${showValue(kind)} (known: ${IMPORT_KINDS.join(', ')})`);
  const toStdout = options.out === undefined || isStdout(options.out);
  return importer(io, file, options, toStdout ? io.stderr : io.stdout);
}

/** `import ftrace`: trace-cmd report or tracefs `trace` text (src/import/ftrace.ts). */
function importFtrace(io: Io, file: string, options: ImportOptions, say: (s: string) => void): number {
  const maxLine = parseSize(options.maxLine ?? '64M', '--max-line');
  const text = readText(file);
  const parsed = parseFtrace(text, file, maxLine);
  const log = ftraceToLog(parsed, file);
  const check = checkImportedTrace(log, options.out ?? '<imported log>');
  const written = logText(log);
  writeAtomic(options.out ?? '-', written, documentOut(io));
  const used = Object.entries(log.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  const skipped = [...parsed.skippedEvents].map(([k, n]) => `${n} ${k}`).join(', ');
  say(`ftrace: ${file}: ${used}${skipped === '' ? '' : `; not used: ${skipped}`}\n`);
  say(`log: ${options.out ?? 'stdout'}: ${log.records.length + 1} records (${formatSize(written.length)})\n`);
  const { findings, report } = check;
  if (findings.length === 0) say('findings: none: the model\'s page table agrees with the trace after every event\n');
  else {
    say(`findings: ${findings.length}\n`);
    for (const f of findings) say(`  line ${f.line}: ${f.kind}: ${f.message}${f.seq === null ? '' : ` (log seq ${f.seq})`}\n`);
  }
  if (report.violations.length > 0) say(`properties violated in the replay: ${[...new Set(report.violations.map((v) => v.property))].join(', ')}\n`);
  return findings.length > 0 || report.violations.length > 0 ? EXIT_FOUND : EXIT_CLEAN;
}
