/**
 * Finding a scheme or a scenario the user named: a built-in name, or a file. Scheme files are
 * JavaScript modules (.js, .mjs) exporting a Scheme as `default` or `scheme`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
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

export async function loadScheme(nameOrFile: string): Promise<Scheme> {
  const builtin = builtinScheme(nameOrFile);
  if (builtin !== undefined) return builtin;
  if (!existsSync(nameOrFile)) throw new InputError('<command line>', null, '--scheme', `${showValue(nameOrFile)} is neither a built-in scheme (iommu-model schemes lists them) nor a file`);
  if (!/\.(m?[jt]s)$/.test(nameOrFile)) throw new InputError(nameOrFile, null, null, 'a scheme file is a module (.ts, .mts, .js or .mjs) exporting the scheme as default');
  let mod: { default?: unknown; scheme?: unknown };
  try {
    const url = pathToFileURL(resolve(nameOrFile)).href;
    // TypeScript schemes are compiled on load by tsx (esbuild), JavaScript ones imported as is.
    mod = (/\.m?ts$/.test(nameOrFile) ? await tsImport(url, import.meta.url) : await import(url)) as { default?: unknown; scheme?: unknown };
  } catch (e) {
    throw new InputError(nameOrFile, null, null, `cannot load: ${(e as Error).message}`);
  }
  const problem = checkScheme(mod.default ?? mod.scheme);
  if (problem !== null) throw new InputError(nameOrFile, null, problem.field, problem.detail);
  return defineScheme((mod.default ?? mod.scheme) as Scheme);
}
