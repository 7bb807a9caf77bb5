/**
 * Finding a scheme or a scenario the user named: a built-in name, or a file. Scheme files are
 * modules (TypeScript or JavaScript) exporting a Scheme as `default` or `scheme`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError, showValue } from '../vocab/errors.js';
import { checkScheme, defineScheme, type Scheme } from '../schemes/scheme.js';
import { builtinScheme } from '../schemes/catalogue.js';
import { packageRoot } from './io.js';

export function scenarioDir(): string {
  return join(packageRoot(), 'src', 'scenarios');
}

export function builtinScenarios(): string[] {
  return readdirSync(scenarioDir())
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => basename(f, '.jsonl'))
    .sort();
}

/** A built-in scenario's file, or the file the user gave. */
export function scenarioFile(nameOrFile: string): string {
  const builtin = join(scenarioDir(), `${nameOrFile}.jsonl`);
  if (!nameOrFile.includes('/') && !nameOrFile.endsWith('.jsonl') && existsSync(builtin)) return builtin;
  if (existsSync(nameOrFile)) return nameOrFile;
  throw new InputError('<command line>', null, '--scenario', `${showValue(nameOrFile)} is neither a built-in scenario (${builtinScenarios().join(', ')}) nor a file`);
}

/** A scheme file: a module, TypeScript (compiled on load by tsx) or JavaScript. */
const SCHEME_FILE = /\.[mc]?[jt]s$/;

/**
 * Imports a TypeScript module through tsx, which is loaded only here: importing tsx costs a
 * cold command about 80 ms, and only a .ts scheme file needs it.
 */
async function importTypeScript(url: string): Promise<unknown> {
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(url, import.meta.url);
}

/**
 * Imports a scheme file. What its evaluation throws is bad input naming the file. So is a
 * top-level await that never settles: the event loop drains while we wait for it, which Node
 * would end with exit 13 and no message; 'beforeExit' comes first and fails the load instead.
 */
async function importSchemeFile(file: string): Promise<unknown> {
  const url = pathToFileURL(resolve(file)).href;
  const stalled = Symbol('stalled');
  let onBeforeExit = (): void => undefined;
  const drained = new Promise<never>((_, reject) => {
    onBeforeExit = () => reject(stalled);
  });
  process.once('beforeExit', onBeforeExit);
  try {
    return await Promise.race([/\.[mc]?ts$/.test(file) ? importTypeScript(url) : import(url), drained]);
  } catch (e) {
    if (e === stalled) throw new InputError(file, null, null, 'cannot load: its top-level await never settles (the event loop ran out of work while waiting for it)');
    throw new InputError(file, null, null, `cannot load: it threw ${showValue(e)}`);
  } finally {
    process.off('beforeExit', onBeforeExit);
  }
}

/** How deep a scheme's objects and arrays nest: the scheme (0), `expect` (1), its arrays (2). */
const SCHEME_DEPTH = 2;

/**
 * The scheme a module exports (as `default`, else `scheme`), copied as plain objects, arrays
 * and values: every getter and Proxy trap runs here, once, and what one throws is bad input
 * naming the field. checkScheme and everything after it see plain data only.
 */
function exportedScheme(file: string, ns: unknown): unknown {
  // field '' is the exported scheme itself
  const read = <T>(field: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new InputError(file, null, field || 'default', `reading it threw ${showValue(e)}`);
    }
  };
  const copy = (v: unknown, field: string, depth: number): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    if (depth > SCHEME_DEPTH) throw new InputError(file, null, field, 'nested deeper than any scheme field is');
    if (read(field, () => Array.isArray(v))) return read(field, () => [...(v as unknown[])]).map((x, i) => copy(x, `${field}[${i}]`, depth + 1));
    const o = v as Record<string, unknown>;
    const at = (k: string): string => (field === '' ? k : `${field}.${k}`);
    return Object.fromEntries(read(field, () => Object.keys(o)).map((k) => [k, copy(read(at(k), () => o[k]), at(k), depth + 1)]));
  };
  let mod = ns as Record<string, unknown>;
  // tsx compiles a .ts outside an ES-module package (no "type": "module" above it), and a .cts,
  // to CommonJS: its exports arrive as the namespace's `default`, marked `__esModule`.
  const inner = read('default', () => mod['default']);
  if (typeof inner === 'object' && inner !== null && read('default', () => (inner as Record<string, unknown>)['__esModule']) === true) mod = inner as Record<string, unknown>;
  return copy(read('default', () => mod['default']) ?? read('scheme', () => mod['scheme']), '', 0);
}

/**
 * The scheme --scheme names: a built-in scheme's name first, else the path of a scheme file (a
 * relative path from the current directory, with or without `./`). A file's scheme may not
 * take a built-in's name: reports and counterexample headers name a scheme by its name, and a
 * counterexample replayed without --scheme would run the built-in.
 */
export async function loadScheme(nameOrFile: string): Promise<Scheme> {
  const builtin = builtinScheme(nameOrFile);
  if (builtin !== undefined) return builtin;
  if (!existsSync(nameOrFile)) throw new InputError('<command line>', null, '--scheme', `${showValue(nameOrFile)} is neither a built-in scheme (iommu-model schemes lists them) nor a file`);
  if (!SCHEME_FILE.test(nameOrFile)) throw new InputError(nameOrFile, null, null, 'a scheme file is a module (.ts, .mts, .cts, .js, .mjs or .cjs) exporting the scheme as default');
  const data = exportedScheme(nameOrFile, await importSchemeFile(nameOrFile));
  const problem = checkScheme(data);
  if (problem !== null) throw new InputError(nameOrFile, null, problem.field, problem.detail);
  const scheme = defineScheme(data as Scheme);
  if (builtinScheme(scheme.name) !== undefined) throw new InputError(nameOrFile, null, 'name', `'${scheme.name}' is a built-in scheme's name; give this scheme a name of its own`);
  return scheme;
}
