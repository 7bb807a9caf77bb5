/**
 * The fuzz corpus: the repo's own logs (fixtures and built-in scenarios), and fast-check
 * arbitraries that mutate them the way broken systems and hostile hands do: a field dropped,
 * retyped or renamed; a number at a boundary; deep nesting; prototype keys; invalid UTF-8; CRLF;
 * control characters; a line cut short. docs/robustness.md lists the classes and what each gets.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';

const ROOT = join(import.meta.dirname, '..', '..');

/** Every log in the repo, by its path relative to the root. */
export function seedLogs(): { name: string; text: string }[] {
  const dirs = ['test/fixtures', 'test/fixtures/races', 'src/scenarios'];
  return dirs.flatMap((d) =>
    readdirSync(join(ROOT, d))
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => ({ name: `${d}/${f}`, text: readFileSync(join(ROOT, d, f), 'utf8') })),
  );
}

/** Numbers and strings at the edges of what a u64, a safe integer or an int field can hold. */
export const BOUNDARIES: readonly unknown[] = [
  0, -1, 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1.5, -0, 1e308, Number.MAX_VALUE,
  '0', '0x0', '-1', '0x', '', ' 1', '1 ', '0x1fffffffffffff', '0x20000000000000', '9007199254740993',
  '0xffffffffffffffff', '18446744073709551615', '0x10000000000000000', '18446744073709551616',
  '0X10', '0x-1', '1e3', '0b101', '0o7', '00000000000000000000000000001', '0xfffffffffffff000',
  null, true, false, [], {}, [1, 2], { x: 1 }, 'READ', ['READ', 'WRITE'], ['EXEC'],
];

/** Keys that name members of Object.prototype, or that set a prototype when assigned. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];

/** Values with control characters, escapes and bidi marks that must not reach a terminal raw. */
export const NASTY_STRINGS = ['a\nb', 'a\r\nb', 'nul\u0000x', 'esc\u001b[31mred', '\u202eevil', 'tab\tx', '\u0007bell', '\ud800', 'é', '💥', 'x'.repeat(5000)];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A value nested `depth` levels deep in arrays or objects, as a placeholder that `text` writes
 * out: thousands of levels are more than JSON.stringify (or fast-check printing it) can recurse.
 */
export function nested(depth: number, inObjects: boolean): Json {
  return `\u0000nested:${depth}:${inObjects ? 'o' : 'a'}\u0000`;
}

function nestedText(depth: number, inObjects: boolean): string {
  return inObjects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/** One mutation of a parsed record: the keys it has decide which mutations apply. */
const recordMutation = (rec: Record<string, Json>): fc.Arbitrary<Record<string, Json>> => {
  const keys = Object.keys(rec);
  const key = keys.length > 0 ? fc.constantFrom(...keys) : fc.constant('op');
  const anyValue: fc.Arbitrary<Json> = fc.oneof(
    fc.constantFrom(...(BOUNDARIES as Json[])),
    fc.constantFrom(...NASTY_STRINGS),
    fc.integer({ min: 1, max: 7000 }).chain((d) => fc.boolean().map((o) => nested(d, o))),
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  );
  return fc.oneof(
    // a field dropped
    key.map((k) => {
      const r = { ...rec };
      delete r[k];
      return r;
    }),
    // a field retyped
    fc.tuple(key, anyValue).map(([k, v]) => ({ ...rec, [k]: v })),
    // a field renamed, or a prototype key added
    fc.tuple(key, fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 }))).map(([k, n]) => {
      const r: Record<string, Json> = {};
      for (const [kk, vv] of Object.entries(rec)) Object.defineProperty(r, kk === k ? n : kk, { value: vv, enumerable: true, writable: true, configurable: true });
      return r;
    }),
    // a nested field (arg, expect, bars) mutated one level down
    key.chain((k) => {
      const inner = rec[k];
      if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) return fc.constant(rec);
      const ik = Object.keys(inner);
      if (ik.length === 0) return fc.constant(rec);
      return fc.tuple(fc.constantFrom(...ik), anyValue).map(([j, v]) => ({ ...rec, [k]: { ...inner, [j]: v } }));
    }),
  );
};

/** JSON text of a record, with `__proto__` kept as an own key (JSON.stringify does keep it). */
function text(rec: Record<string, Json>): string {
  return JSON.stringify(rec).replace(/"\\u0000nested:(\d+):([oa])\\u0000"/g, (_m, d: string, k: string) => nestedText(Number(d), k === 'o'));
}

/** A mutation of the bytes of a line: what a broken writer, a terminal or a bad disk leaves. */
const byteMutation = (line: string): fc.Arbitrary<Buffer> => {
  const bytes = Buffer.from(line, 'utf8');
  const at = fc.integer({ min: 0, max: Math.max(bytes.length - 1, 0) });
  return fc.oneof(
    at.map((i) => bytes.subarray(0, i)), // cut short
    fc.tuple(at, fc.constantFrom(0xff, 0xfe, 0xc0, 0x80, 0xed, 0x00, 0x1b, 0x0d, 0x7f)).map(([i, b]) => {
      const c = Buffer.from(bytes);
      c[i] = b;
      return c;
    }),
    fc.constant(Buffer.concat([bytes, Buffer.from('\r')])), // CRLF
    fc.constant(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes])), // a BOM
    fc.tuple(at, fc.constantFrom('\u2028', '\u0000', '\n\n', '{', '}', '"', '\\')).map(([i, s]) => Buffer.concat([bytes.subarray(0, i), Buffer.from(s), bytes.subarray(i)])),
  );
};

/** A whole mutated log: one seed log, with a few of its lines mutated as records or as bytes. */
export function mutatedLog(seeds: readonly { name: string; text: string }[]): fc.Arbitrary<{ seed: string; bytes: Buffer }> {
  return fc.constantFrom(...seeds).chain((seed) => {
    const lines = seed.text.split('\n').filter((l) => l !== '');
    const lineMutation = fc.integer({ min: 0, max: lines.length - 1 }).chain((i) => {
      const parsed = JSON.parse(lines[i]!) as Record<string, Json>;
      return fc
        .oneof(
          recordMutation(parsed).map((r) => Buffer.from(text(r), 'utf8')),
          byteMutation(lines[i]!),
          fc.constant(Buffer.from(lines[i]!, 'utf8')), // duplicated (seq order, second header)
        )
        .map((b) => ({ i, b, dup: false }));
    });
    return fc.array(lineMutation, { minLength: 1, maxLength: 3 }).map((muts) => {
      const out: Buffer[] = lines.map((l) => Buffer.from(l, 'utf8'));
      for (const m of muts) out[m.i] = m.b;
      const bytes = Buffer.concat(out.flatMap((b) => [b, Buffer.from('\n')]));
      const shown = muts.map((m) => `line ${m.i + 1}: ${JSON.stringify(m.b.toString('latin1').slice(0, 300))}`);
      // what fast-check prints for a counterexample: the seed log and the mutated lines, not the bytes
      return { seed: seed.name, bytes, [fc.toStringMethod]: () => `${seed.name} with ${shown.join('; ')}` };
    });
  });
}

/** A scheme module's source that misbehaves as a loaded module can: what it exports or throws. */
export const hostileSchemeSource: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'export default null;',
    'export default 42;',
    'export default "upstream";',
    'export default {};',
    'export default { name: 42 };',
    'export default { name: "x\\n\\u001b[2J" };',
    'export default { name: "upstream" };',
    'throw null;',
    'throw undefined;',
    'throw "a string";',
    'throw 42;',
    'throw { toString() { throw new Error("nested"); } };',
    'throw new Proxy({}, { get() { throw new Error("proxy"); } });',
    'export default new Proxy({}, { get() { throw new Error("proxy get"); }, has() { throw new Error("proxy has"); }, ownKeys() { throw new Error("proxy keys"); } });',
    'export default { get name() { throw new Error("getter"); } };',
    'export default { get name() { throw null; } };',
    'export const scheme = Object.create(null);',
    'export default Object.freeze([]);',
    'syntax error here (',
    'import "./does-not-exist.mjs";',
    'export default { name: "x".repeat(100000) };',
  ),
  fc.jsonValue({ maxDepth: 2 }).map((v) => `export default ${JSON.stringify(v)};`),
);
