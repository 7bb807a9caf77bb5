/**
 * docs/log-format.md is the complete reference: every op of STIMULUS_SCHEMA with exactly its
 * fields (optional ones marked `?`), every field every stimulus may carry, the header's and the
 * derived records' fields as the schema has them, every derived record op the engine emits and
 * no other, and only ioctl commands the model knows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKnownCmd } from '../../src/kernel/vfio/fops.js';
import { COMMON_FIELDS, STIMULUS_SCHEMA } from '../../src/vocab/records.js';
import { logFormatSchema } from '../../scripts/log-format-schema.js';

const DOC = readFileSync('docs/log-format.md', 'utf8');

/** The text of a `##` or `###` section, up to the next heading of its level or above. */
function section(title: string): string {
  const lines = DOC.split('\n');
  const start = lines.findIndex((l) => /^#{2,3} /.test(l) && l.replace(/^#+ /, '') === title);
  if (start < 0) throw new Error(`docs/log-format.md has no section '${title}'`);
  const level = lines[start]!.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The rows of the Markdown tables of a text, as cells (the header and rule rows left out). */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.slice(1, -1).split(' | ').map((c) => c.trim()));
}

const names = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe('docs/log-format.md', () => {
  it('has a row for every op of STIMULUS_SCHEMA listing exactly its fields, the optional ones marked ?', () => {
    const documented = new Map<string, string[]>();
    for (const [opCell, fieldCell] of rows(section('Stimuli'))) {
      // top-level fields only: what a field's [..] holds is its elements' fields
      const fields = names(fieldCell!.replace(/\[[^\]]*\]/g, '')).sort();
      for (const op of names(opCell!)) documented.set(op, fields);
    }
    const schema: Readonly<Record<string, Readonly<Record<string, { readonly kind: string; readonly optional?: true }>>>> = STIMULUS_SCHEMA;
    for (const [op, fields] of Object.entries(schema)) {
      const expected = Object.entries(fields).map(([f, spec]) => (spec.optional === true ? `${f}?` : f)).sort();
      expect(documented.get(op), `op ${op}`).toEqual(expected);
    }
    expect([...documented.keys()].filter((op) => !(op in schema) && !op.startsWith('VFIO_'))).toEqual([]);
  });

  it('lists every field every stimulus may carry', () => {
    expect(rows(section('Fields every stimulus may carry')).map(([f]) => names(f!)[0])).toEqual([...COMMON_FIELDS]);
  });

  it("lists the header's and the derived records' fields as the schema has them", () => {
    const defs = logFormatSchema()['$defs'] as Record<string, { properties: Record<string, unknown> }>;
    expect(rows(section('The header')).map(([f]) => names(f!)[0])).toEqual(Object.keys(defs['header']!.properties));
    const derivedFields = rows(section('Derived records')).filter(([, v]) => !v!.startsWith('`'));
    expect(derivedFields.map(([f]) => names(f!)[0])).toEqual(Object.keys(defs['derived']!.properties));
  });

  it('names only ioctl commands the model knows', () => {
    const cmds = rows(section('ioctl commands')).flatMap(([c]) => names(c!));
    expect(cmds.length).toBeGreaterThan(10);
    expect(cmds.filter((c) => !isKnownCmd(c))).toEqual([]);
  });

  it('lists every derived record op the engine emits, and no other', () => {
    const sources = readdirSync('src', { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
    // tx.emit(op, ...) and tx.cascade(op, ...): every string literal of the first argument
    const emitted = new Set(sources.flatMap((s) => [...s.matchAll(/\.(?:emit|cascade)\(([^,{]*)/g)].flatMap((m) => [...m[1]!.matchAll(/'([a-z_.]+)'/g)].map((x) => x[1]!))));
    expect(emitted.size).toBeGreaterThan(50);
    const table = rows(section('Derived records')).filter(([, v]) => v!.startsWith('`'));
    const documented = new Set(table.flatMap(([op]) => names(op!)));
    expect([...emitted].filter((op) => !documented.has(op)).sort()).toEqual([]);
    expect([...documented].filter((op) => !emitted.has(op)).sort()).toEqual([]);
  });
});
