/**
 * Which scheme a log runs under (one rule for replay and check: the header's unless --scheme
 * says otherwise), and scheme files: a .ts loads wherever it lives, and a file that cannot give
 * a scheme is bad input (exit 2, one line naming the file and what went wrong), whatever it throws.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scenarioFile } from '../../src/cli/resolve.js';
import { run } from '../cli-run.js';

/** One error line, no stack. */
function oneLine(err: string): string {
  const lines = err.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(err).not.toContain('    at ');
  return lines[0]!;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'iommu-model-scheme-'));

/** map-vs-munmap with `scheme` in its header. */
function scenarioUnder(scheme: string): string {
  const [header, ...rest] = readFileSync(scenarioFile('map-vs-munmap'), 'utf8').split('\n');
  const file = join(tmp(), `map-vs-munmap-${scheme}.jsonl`);
  writeFileSync(file, [JSON.stringify({ ...(JSON.parse(header!) as object), scheme }), ...rest].join('\n'));
  return file;
}

const SCHEME = "{ name: 'mine', summary: 'interval notifier', source: 'a test', pfnmap: 'interval' }";

describe('the scheme a log runs under', () => {
  it("check and replay both run a scenario under its header's scheme", async () => {
    const file = scenarioUnder('bar-notifier-naive');
    const check = await run('check', '--scenario', file, '--json');
    const replay = await run('replay', file, '--json');
    expect((JSON.parse(check.out) as { scheme: string }).scheme).toBe('bar-notifier-naive');
    expect((JSON.parse(replay.out) as { scheme: string }).scheme).toBe('bar-notifier-naive');
    expect(check.code).toBe(1);
    expect(replay.code).toBe(1);
  });

  it('--scheme overrides the header for both', async () => {
    const file = scenarioUnder('bar-notifier-naive');
    expect((await run('check', '--scenario', file, '--scheme', 'upstream')).code).toBe(0);
    expect((await run('replay', file, '--scheme', 'upstream')).code).toBe(0);
  });

  it('an unknown header scheme is bad input for both, naming line 1 and the field', async () => {
    const file = scenarioUnder('no-such-scheme');
    for (const r of [await run('check', '--scenario', file), await run('replay', file)]) {
      expect(r.code).toBe(2);
      expect(oneLine(r.err)).toContain(`${file}:1: field 'scheme': unknown scheme "no-such-scheme"`);
      expect(r.out).toBe('');
    }
  });

  it("check's --help says how a name is looked up and that the header's scheme is the default", async () => {
    const r = await run('check', '--help');
    expect(r.out).not.toContain('(default: "upstream")');
    expect(r.out.replace(/\s+/g, ' ')).toContain("instead of the scenario header's scheme (absent: upstream); a name is looked up among the built-in schemes (iommu-model schemes) first, then as the path");
  });
});

describe('scheme files that load', () => {
  /** Writes `text` to `name` in a new temporary folder with `pkg` as its package.json (none when null). */
  function schemeFile(name: string, text: string, pkg: object | null): string {
    const dir = tmp();
    if (pkg !== null) writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('the temporary folder has no package.json above it (so a .ts there is CommonJS to tsx)', () => {
    for (let d = tmp(); d !== dirname(d); d = dirname(d)) expect(existsSync(join(d, 'package.json')), d).toBe(false);
  });

  it.each([
    ['a .ts outside any package', 's.ts', `export default ${SCHEME};`, null],
    ['a .ts under "type": "commonjs"', 's.ts', `export default ${SCHEME};`, { type: 'commonjs' }],
    ['a .ts exporting `scheme`, outside any package', 's.ts', `export const scheme = ${SCHEME};`, null],
    ['a .mts', 's.mts', `const s: { name: string } = ${SCHEME};\nexport default s;`, null],
    ['a .cts', 's.cts', `export default ${SCHEME};`, null],
    ['a .cjs', 's.cjs', `module.exports = ${SCHEME};`, null],
  ] as const)('%s', async (_what, name, text, pkg) => {
    const r = await run('replay', join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl'), '--scheme', schemeFile(name, text, pkg), '--json');
    expect(r.err).toBe('');
    expect((JSON.parse(r.out) as { scheme: string }).scheme).toBe('mine');
  });
});

describe('scheme files that do not load', () => {
  it.each([
    ['throw null', 'throw null;', 'cannot load: it threw null'],
    ['throw "str" with a control character', 'throw "str\\u001b[31m";', 'cannot load: it threw "str\\u001b[31m"'],
    ['throw an Error', 'throw new Error("boom\\nsecond line");', 'cannot load: it threw Error: boom\\nsecond line'],
    ['throw a value that cannot be printed', 'const e = new Error(); Object.defineProperty(e, "message", { get() { throw 1; } }); throw e;', 'cannot load: it threw (a value that cannot be shown: reading it threw)'],
    ['a long thrown string', `throw "${'x'.repeat(500)}";`, `cannot load: it threw "${'x'.repeat(199)}...`],
    ['a throwing getter', "export default { name: 'g', summary: 's', source: 's', get pfnmap() { throw new Error('getter'); } };", "field 'pfnmap': reading it threw Error: getter"],
    ['a getter that throws undefined', "export default { get name() { throw undefined; }, summary: 's', source: 's' };", "field 'name': reading it threw undefined"],
    ['a Proxy whose traps throw', 'export default new Proxy({}, { get() { throw new Error("trap"); }, ownKeys() { throw new Error("keys"); } });', "field 'default': reading it threw Error: trap"],
    ['a Proxy inside a field', "export default { name: 'p', summary: 's', source: 's', type1Notifier: new Proxy({}, { ownKeys() { throw 7; } }) };", "field 'type1Notifier': reading it threw 7"],
    ['a cycle', "const e = { name: 'c', summary: 's', source: 's', expect: {} }; e.expect.x = [e]; export default e;", "field 'expect.x[0]': nested deeper than any scheme field is"],
    ["a built-in scheme's name", "export default { name: 'upstream', summary: 's', source: 's', pfnmap: 'interval' };", "field 'name': 'upstream' is a built-in scheme's name"],
  ])('%s: exit 2, one line naming the file', async (_what, text, says) => {
    const file = join(tmp(), 'bad.mjs');
    writeFileSync(file, `${text}\n`);
    const r = await run('check', '--scenario', 'map-vs-munmap', '--scheme', file);
    expect(r.code).toBe(2);
    const line = oneLine(r.err);
    expect(line).toContain(`${file}: `);
    expect(line).toContain(says);
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    expect(line.length).toBeLessThan(file.length + 300);
    expect(r.out).toBe('');
  });
});

/** Runs the CLI from src (tsx) in a process of its own, in `cwd`. */
function cli(cwd: string, ...argv: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const entry = join(tmp(), 'entry.mjs');
  const mainUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')).href;
  writeFileSync(
    entry,
    `import { main } from ${JSON.stringify(mainUrl)};\n` +
      `process.exitCode = await main(${JSON.stringify(argv)}, { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), isTTY: false });\n`,
  );
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, entry], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

describe('scheme files, in a process of their own', () => {
  it('a top-level await that never settles is exit 2 with one line, not a silent exit 13', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'stalls.mjs'), 'await new Promise(() => {});\nexport default {};\n');
    const r = await cli(dir, 'check', '--scenario', 'map-vs-munmap', '--scheme', 'stalls.mjs');
    expect(r.code).toBe(2);
    expect(oneLine(r.err)).toBe('iommu-model: stalls.mjs: cannot load: its top-level await never settles (the event loop ran out of work while waiting for it)');
  });

  it('a name is a built-in first, then a path from the current directory (no ./ needed)', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'upstream'));
    writeFileSync(join(dir, 'upstream.mjs'), `export default ${SCHEME};\n`);
    const fixture = join(import.meta.dirname, '..', 'fixtures', 'spec-example.jsonl');
    const byPath = await cli(dir, 'replay', fixture, '--scheme', 'upstream.mjs', '--json');
    expect(byPath.err).toBe('');
    expect((JSON.parse(byPath.out) as { scheme: string }).scheme).toBe('mine');
    // a folder named like a built-in does not shadow it
    const byName = await cli(dir, 'replay', fixture, '--scheme', 'upstream', '--json');
    expect((JSON.parse(byName.out) as { scheme: string }).scheme).toBe('upstream');
  });
});
