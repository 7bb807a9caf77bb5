/**
 * `import <kind> <file> [-o out.jsonl]`: turns a trace a real machine produced into an
 * iommu-model log (docs/importers.md), so that `replay` shows where the traced system did what
 * the kernel would not. The log goes to -o (or stdout), written whole or not at all; the summary
 * (lines imported, events skipped with their counts, what was assumed) goes to stderr.
 */
import { createReadStream } from 'node:fs';
import { fit } from '../render/term.js';
import type { ImportResult } from '../../import/qemu-trace.js';
import { formatSize, LineSplitter } from '../../log/lines.js';
import { InputError, showValue } from '../../vocab/errors.js';
import { documentOut, EXIT_CLEAN, fileProblem, lineLimit, parseSize, type Io } from '../io.js';
import { openOutput } from '../output.js';

/** What an importer gives back: the log's text and the summary's lines (for stderr). */
interface Imported {
  readonly log: string;
  readonly summary: string;
}

/** The importers, one line per kind: the kind's name, what it reads, its importer. */
export const IMPORT_KINDS: Readonly<Record<string, { readonly reads: string; readonly run: (file: string, lines: readonly string[], maxLine: number) => Promise<Imported> }>> = {
  'qemu-trace': { reads: "QEMU's vfio trace events (-trace 'vfio_*'; log or syslog backend)", run: qemuTrace },
  ftrace: { reads: 'trace-cmd report or tracefs trace text of the iommu events (and syscalls)', run: ftrace },
};

// Each importer's modules load when it runs, so that no other command pays for them.
async function qemuTrace(file: string, lines: readonly string[]): Promise<Imported> {
  const { importQemuTrace } = await import('../../import/qemu-trace.js');
  const r = importQemuTrace(file, lines);
  return { log: [r.header, ...r.records].map((x) => `${JSON.stringify(x)}\n`).join(''), summary: renderImportSummary('qemu-trace', file, r) };
}

/** ftrace: the log, then the trace checked against the model's IOMMU page tables (src/run/trace-check.ts). */
async function ftrace(file: string, lines: readonly string[], maxLine: number): Promise<Imported> {
  const [{ parseFtrace }, { ftraceToLog, logText }, { checkImportedTrace }] = await Promise.all([import('../../import/ftrace.js'), import('../../import/ftrace-log.js'), import('../../run/trace-check.js')]);
  const parsed = parseFtrace(lines.join('\n'), file, maxLine);
  const log = ftraceToLog(parsed, file);
  const { findings, report } = checkImportedTrace(log, `${file} (imported)`);
  const text = logText(log);
  const used = Object.entries(log.counts).map(([k, n]) => `${n} ${k}`).join(', ');
  const skipped = [...parsed.skippedEvents].map(([k, n]) => `${n} ${k}`).join(', ');
  const out = [`import ftrace: ${file}: ${used}${skipped === '' ? '' : `; not used: ${skipped}`}`, `log: ${log.records.length + 1} records (${formatSize(text.length)})`];
  if (findings.length === 0) out.push("findings: none: the model's page table agrees with the trace after every event");
  else {
    out.push(`findings: ${findings.length}`);
    for (const f of findings) out.push(`  line ${f.line}: ${f.kind}: ${f.message}${f.seq === null ? '' : ` (log seq ${f.seq})`}`);
  }
  if (report.violations.length > 0) out.push(`properties violated in the replay: ${[...new Set(report.violations.map((v) => v.property))].join(', ')}`);
  return { log: text, summary: `${out.join('\n')}\n` };
}

export interface ImportOptions {
  out?: string;
  maxLine: string;
}

/** The file's lines as UTF-8 text, each within the line limit (invalid UTF-8 names its line). */
async function readLines(file: string, maxLine: number): Promise<string[]> {
  const limit = lineLimit(maxLine);
  const splitter = new LineSplitter(file, limit.bytes, limit.name);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const lines: string[] = [];
  const take = (bytes: Uint8Array): void => {
    try {
      lines.push(decoder.decode(bytes));
    } catch {
      throw new InputError(file, lines.length + 1, null, 'not UTF-8 text');
    }
  };
  const stream = createReadStream(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) for (const line of splitter.push(chunk)) take(line);
  } catch (e) {
    throw e instanceof InputError ? e : (fileProblem(file, e) ?? e);
  } finally {
    stream.destroy();
  }
  const last = splitter.finish();
  if (last !== null) take(last);
  return lines;
}

/** The summary of a qemu-trace import (runImport fits it to the terminal, or 100 columns). */
export function renderImportSummary(kind: string, file: string, r: ImportResult): string {
  const out = [`import ${kind}: ${file}: ${r.imported} trace lines imported as ${r.records.length} records`];
  const skipped = [...r.skipped].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = skipped.reduce((n, [, c]) => n + c, 0);
  if (total > 0) {
    out.push(`skipped ${total} lines, by event:`);
    const w = String(skipped[0]![1]).length;
    for (const [name, c] of skipped) out.push(`  ${String(c).padStart(w)}  ${name}`);
  }
  if (r.assumptions.length > 0) {
    out.push('assumed (each also a comment on its records):');
    for (const a of r.assumptions) out.push(`  - ${a}`);
  }
  return `${out.join('\n')}\n`;
}

export async function runImport(io: Io, kind: string, file: string, o: ImportOptions): Promise<number> {
  const importer = Object.hasOwn(IMPORT_KINDS, kind) ? IMPORT_KINDS[kind]! : undefined;
  if (importer === undefined) throw new InputError('<command line>', null, '<kind>', `expected one of ${Object.keys(IMPORT_KINDS).join(', ')}, got ${showValue(kind)}`);
  const maxLine = parseSize(o.maxLine, '--max-line');
  const result = await importer.run(file, await readLines(file, maxLine), maxLine);
  // everything is computed before the output opens: bad input leaves nothing behind
  const out = openOutput(o.out ?? '-', documentOut(io));
  try {
    out.write(result.log);
    out.close();
  } catch (e) {
    out.abort();
    throw e;
  }
  io.stderr(fit(result.summary, io.term?.width ?? 100));
  return EXIT_CLEAN;
}
