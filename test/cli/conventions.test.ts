/**
 * The command line's conventions (docs in README, "Use"): --version and --help with examples and
 * exit codes, conflicting flags refused, errors as JSON with --json, text fitted to the width,
 * colour only when asked for, divergences as the fields that differ, verdicts that read as what
 * they say, and completion scripts made from the command table.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli-run.js';
import { fit, termOf, type Term } from '../../src/cli/render/term.js';
import { diffText } from '../../src/cli/render/diff.js';
import { verdictPhrase } from '../../src/vocab/properties.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'test', 'fixtures', 'spec-example.jsonl');

const run = runCli;

const PIPE: Term = { width: 100, colour: false };
const longest = (s: string): number => Math.max(...s.split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').length));

describe('--version and --help', () => {
  it('prints the version of package.json', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it.each(['replay', 'check', 'demo', 'gen', 'scenarios', 'schemes', 'properties', 'completion'])('%s --help shows examples that name the command and its exit codes', async (cmd) => {
    const r = await run([cmd, '--help'], PIPE);
    expect(r.code).toBe(0);
    const examples = r.out.slice(r.out.indexOf('Examples:'), r.out.indexOf('Exit codes:'));
    expect(examples).toMatch(new RegExp(`npx iommu-model ${cmd}`));
    expect(r.out).toMatch(/Exit codes:\n {2}0/);
    expect(longest(r.out)).toBeLessThanOrEqual(100);
  });

  it("every example in check's and replay's --help runs as shown from the repo", async () => {
    for (const cmd of ['replay', 'check']) {
      const help = (await run([cmd, '--help'])).out;
      const examples = help.slice(help.indexOf('Examples:'), help.indexOf('Exit codes:')).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('npx iommu-model '));
      expect(examples.length).toBeGreaterThan(2);
      const dir = mkdtempSync(join(tmpdir(), 'iommu-model-help-'));
      for (const e of examples) {
        // the examples name repo paths and write relative files: run them from the root, writing into a temporary folder
        const argv = e.slice('npx iommu-model '.length).split(' ').map((a) => (a === 'cx.jsonl' || a === 'recording.jsonl' ? join(dir, a) : a.startsWith('test/') ? join(ROOT, a) : a));
        const r = await run(argv);
        expect([0, 1], `${e}: ${r.err}`).toContain(r.code);
      }
    }
  });
});

describe('flags that cannot combine', () => {
  it.each([
    [['replay', EXAMPLE, '--at', '3', '--why', '4'], "'--at <seq>' cannot be used with option '--why"],
    [['replay', EXAMPLE, '--at', '3', '--record', '/tmp/x'], "'--at <seq>' cannot be used with option '--record"],
    [['replay', EXAMPLE, '--why', '3', '--trace'], "'--why <seq[.id]>' cannot be used with option '--trace'"],
    [['demo', '--json', '--markdown'], "'--json' cannot be used with option '--markdown'"],
    [['replay', EXAMPLE, '--json', '--record', '-'], "'-' and --json both write to stdout"],
  ])('%j is bad input, one line', async (argv, says) => {
    const r = await run(argv as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(says);
    expect(r.err.startsWith('iommu-model: ')).toBe(true);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('--json errors', () => {
  it('are a JSON document on stdout as well as the line on stderr', async () => {
    const r = await run(['replay', join(ROOT, 'no-such.jsonl'), '--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.out) as { error: { code: string; exit: number; file: string; message: string } };
    expect(doc.error).toMatchObject({ code: 'input', exit: 2, file: join(ROOT, 'no-such.jsonl') });
    expect(r.err).toBe(`iommu-model: ${doc.error.message}\n`);
  });

  it('cover usage errors too', async () => {
    const r = await run(['check', '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.out) as { error: { code: string } }).error.code).toBe('usage');
  });
});

describe('the width', () => {
  it('fits a long line at spaces, its continuation indented, and cuts no word shorter than the width', () => {
    const line = `  ${'word '.repeat(40)}end`;
    const out = fit(line, 60);
    expect(longest(out)).toBeLessThanOrEqual(60);
    expect(out.split('\n').slice(1).every((l) => l.startsWith('      '))).toBe(true);
    expect(out.replace(/\s+/g, ' ').trim()).toBe(line.replace(/\s+/g, ' ').trim());
  });

  it('keeps demo, check and replay output within 100 columns in a pipe', async () => {
    const texts = [
      (await run(['check', '--scenario', 'mdev-unmap-vs-unmap'], PIPE)).out,
      (await run(['replay', join(ROOT, 'test', 'fixtures', 'bar-p2p-disable.jsonl'), '--trace'], PIPE)).out,
      (await run(['scenarios'], PIPE)).out,
      (await run(['schemes'], PIPE)).out,
      (await run(['properties'], PIPE)).out,
    ];
    for (const t of texts) expect(longest(t)).toBeLessThanOrEqual(100);
  });

  it('leaves a recording written to stdout as one JSON document per line', async () => {
    const r = await run(['replay', EXAMPLE, '--record', '-'], { width: 40, colour: false });
    const records = r.out.split('\n').filter((l) => l.startsWith('{'));
    expect(records.length).toBeGreaterThan(11);
    for (const l of records) expect(() => JSON.parse(l) as unknown).not.toThrow();
  });

  it('takes the terminal width on a TTY and 100 columns otherwise', () => {
    expect(termOf(true, 132, {}).width).toBe(132);
    expect(termOf(false, 132, {}).width).toBe(100);
    expect(termOf(true, undefined, {}).width).toBe(100);
  });
});

describe('colour', () => {
  it('is on for a TTY unless NO_COLOR, and FORCE_COLOR turns it on anywhere', () => {
    expect(termOf(true, 80, {}).colour).toBe(true);
    expect(termOf(false, 80, {}).colour).toBe(false);
    expect(termOf(true, 80, { NO_COLOR: '1' }).colour).toBe(false);
    expect(termOf(false, 80, { FORCE_COLOR: '1' }).colour).toBe(true);
    expect(termOf(true, 80, { FORCE_COLOR: '0' }).colour).toBe(false);
    expect(termOf(true, 80, { NO_COLOR: '' }).colour).toBe(true);
  });

  it('marks a violation red only when the Term colours', async () => {
    const plain = await run(['check', '--scenario', 'mdev-unmap-vs-unmap'], PIPE);
    const coloured = await run(['check', '--scenario', 'mdev-unmap-vs-unmap'], { width: 100, colour: true });
    expect(plain.out).not.toContain('\x1b[');
    expect(coloured.out).toContain('\x1b[31mVIOLATED');
  });
});

describe('what the output says', () => {
  it('shows a divergence as the fields that differ', () => {
    expect(diffText({ errno: 'EEXIST' }, { errno: 'EINVAL' })).toBe('expected errno EEXIST, got errno EINVAL');
    expect(diffText({ ret: 4 }, { errno: 'ENOENT' })).toBe('expected ret 4, got errno ENOENT');
    expect(diffText({ ret: 0, out: { size: '0x1000' } }, { ret: 0, out: { size: '0x0', other: 1 } })).toBe('expected out.size 0x1000, got out.size 0x0');
    expect(diffText({ ret: '0x10' }, { ret: 16 })).toBe('expected nothing, got nothing');
  });

  it('prints a replay divergence field by field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-div-'));
    const file = join(dir, 'log.jsonl');
    writeFileSync(file, readFileSync(EXAMPLE, 'utf8').replace('"cmd":"VFIO_SET_IOMMU","arg":"VFIO_TYPE1v2_IOMMU","expect":{"ret":0}', '"cmd":"VFIO_SET_IOMMU","arg":"VFIO_TYPE1v2_IOMMU","expect":{"errno":"EINVAL"}'));
    const r = await run(['replay', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('divergence at 7 (ioctl, line 7): expected errno EINVAL, got ret 0');
  });

  it('reads verdicts as what they say: a rule holds, a hazard is none or found', () => {
    expect(verdictPhrase('NoDeadlock', 'holds')).toBe('NoDeadlock holds');
    expect(verdictPhrase('IsolationBreach', 'holds')).toBe('IsolationBreach: none');
    expect(verdictPhrase('KernelBug', 'violated')).toBe('KernelBug: found');
    expect(verdictPhrase('LockOrder', 'violated')).toBe('LockOrder VIOLATED');
  });

  it('prints commands that run as shown, through npx', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-cx-'));
    const r = await run(['check', '--scenario', 'mdev-unmap-vs-unmap', '--out', join(dir, 'cx.jsonl')]);
    expect(r.out).toContain(`  npx iommu-model replay ${join(dir, 'cx.jsonl')}\n`);
  });
});

describe('completion', () => {
  it('completes commands, flags and built-in names in bash', () => {
    const script = execFileSync('node', [join(ROOT, 'bin', 'iommu-model.js'), 'completion', 'bash'], { encoding: 'utf8' });
    const complete = (words: string[]): string[] =>
      execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _iommu_model; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8', cwd: tmpdir() })
        .split('\n')
        .filter((l) => l !== '');
    expect(complete(['iommu-model', 'ch'])).toEqual(['check']);
    expect(complete(['iommu-model', 'check', '--max-'])).toEqual(expect.arrayContaining(['--max-states', '--max-memory', '--max-line']));
    expect(complete(['iommu-model', 'check', '--scenario', 'map-vs'])).toEqual(['map-vs-munmap']);
    expect(complete(['iommu-model', 'replay', '--scheme', 'mdev-notify'])).toEqual(['mdev-notify-unlocked']);
  });

  it('writes a zsh script that names every command and check\'s flags', async () => {
    const r = await run(['completion', 'zsh'], { width: 40, colour: false });
    expect(r.out.startsWith('#compdef iommu-model\n')).toBe(true);
    for (const c of ['replay', 'check', 'demo', 'gen', 'completion']) expect(r.out).toContain(`'${c}:`);
    expect(r.out).toContain("'--max-states[");
    // a document: not fitted to the width
    expect(longest(r.out)).toBeGreaterThan(40);
  });

  it('refuses another shell', async () => {
    const r = await run(['completion', 'fish']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("no completion for 'fish' (bash, zsh)");
  });
});
