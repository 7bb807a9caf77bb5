/**
 * `import <kind> <file> [-o out.jsonl]`: turns a trace a real machine produced into an
 * iommu-model log (docs/importers.md), so that `replay` shows where the traced system did what
 * the kernel would not. The log goes to -o (or stdout), written whole or not at all; the summary
 * (lines imported, events skipped with their counts, what was assumed) goes to stderr.
 */
import { createReadStream } from 'node:fs';
import wrapAnsi from 'wrap-ansi';
import { importQemuTrace, type ImportResult } from '../../import/qemu-trace.js';
import { LineSplitter } from '../../log/lines.js';
import { InputError, showValue } from '../../vocab/errors.js';
import { documentOut, EXIT_CLEAN, fileProblem, lineLimit, parseSize, type Io } from '../io.js';
import { openOutput } from '../output.js';

/** The importers, one line per kind: the kind's name, what it reads, its pure importer. */
export const IMPORT_KINDS: Readonly<Record<string, { readonly reads: string; readonly run: (file: string, lines: readonly string[]) => ImportResult }>> = {
  'qemu-trace': { reads: "QEMU's vfio trace events (-trace 'vfio_*'; log or syslog backend)", run: importQemuTrace },
};

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

/** The summary on stderr: readable lines of at most 100 columns. */
export function renderImportSummary(kind: string, file: string, r: ImportResult): string {
  const wrap = (s: string, indent: string): string => wrapAnsi(s, 100 - indent.length, { hard: true, trim: false }).split('\n').map((l, i) => `${i === 0 ? indent : `${indent}  `}${l.trimEnd()}`).join('\n');
  const out = [wrap(`import ${kind}: ${file}: ${r.imported} trace lines imported as ${r.records.length} records`, '')];
  const skipped = [...r.skipped].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = skipped.reduce((n, [, c]) => n + c, 0);
  if (total > 0) {
    out.push(`skipped ${total} lines, by event:`);
    const w = String(skipped[0]![1]).length;
    for (const [name, c] of skipped) out.push(wrap(`${String(c).padStart(w)}  ${name}`, '  '));
  }
  if (r.assumptions.length > 0) {
    out.push('assumed (each also a comment on its records):');
    for (const a of r.assumptions) out.push(wrap(`- ${a}`, '  '));
  }
  return `${out.join('\n')}\n`;
}

export async function runImport(io: Io, kind: string, file: string, o: ImportOptions): Promise<number> {
  const importer = Object.hasOwn(IMPORT_KINDS, kind) ? IMPORT_KINDS[kind]! : undefined;
  if (importer === undefined) throw new InputError('<command line>', null, '<kind>', `expected one of ${Object.keys(IMPORT_KINDS).join(', ')}, got ${showValue(kind)}`);
  const maxLine = parseSize(o.maxLine, '--max-line');
  const result = importer.run(file, await readLines(file, maxLine));
  // everything is computed before the output opens: bad input leaves nothing behind
  const out = openOutput(o.out ?? '-', documentOut(io));
  try {
    out.write(`${JSON.stringify(result.header)}\n`);
    for (const r of result.records) out.write(`${JSON.stringify(r)}\n`);
    out.close();
  } catch (e) {
    out.abort();
    throw e;
  }
  io.stderr(renderImportSummary(kind, file, result));
  return EXIT_CLEAN;
}
