/**
 * The package as a user gets it: `npm pack` of this checkout (its `files`, its dist/), installed
 * into a fresh folder; the installed command runs demo and check, and docs/api.md's examples,
 * importing 'iommu-model', type-check against the installed declarations and run (with the tsx
 * the package depends on). dist/ is the one `npm ci` built (prepare); packing does not rebuild it,
 * so that the tests that run bin/ over it never see it half-written.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docExamples } from '../api/doc-examples.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'iommu-model-package-'));
/** npm, npx and tsc can take minutes on a shared machine: generous, and never a timed assertion. */
const SLOW = 900_000;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], cwd = dir): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** The newest modification time of the files under `d` (ms). */
function newest(d: string): number {
  let t = 0;
  for (const e of readdirSync(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.ts')) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

beforeAll(async () => {
  const built = statSync(join(root, 'dist', 'src', 'index.js'), { throwIfNoEntry: false });
  if (built === undefined || built.mtimeMs < Math.max(newest(join(root, 'src')), newest(join(root, 'machines')))) {
    throw new Error('dist/ is missing or older than src/: run `npm run build` (npm ci does it) before this test');
  }
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], root);
  expect(packed, packed.stderr).toMatchObject({ code: 0 });
  const tgz = packed.stdout.trim().split('\n').pop()!;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'iommu-model-package-test', private: true, type: 'module' })}\n`);
  const installed = await run('npm', ['install', join(dir, tgz), '--no-audit', '--no-fund', '--prefer-offline']);
  expect(installed, installed.stderr).toMatchObject({ code: 0 });
}, SLOW);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the installed package', () => {
  it('runs `npx iommu-model demo`: every verdict as documented (exit 0)', async () => {
    const r = await run('npx', ['--no-install', 'iommu-model', 'demo']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    // the golden logs demo replays are in the package (`files`)
    const golden = readdirSync(join(root, 'test', 'fixtures')).filter((f) => f.endsWith('.jsonl')).length;
    expect(r.stdout).toContain(`golden logs: replaying ${golden} logs`);
  }, SLOW);

  it('runs `npx iommu-model check --scenario map-vs-munmap` (exit 0: every property holds upstream)', async () => {
    const r = await run('npx', ['--no-install', 'iommu-model', 'check', '--scenario', 'map-vs-munmap']);
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('map-vs-munmap under upstream: tasks map, munmap');
  }, SLOW);

  it("type-checks docs/api.md's examples against the installed types, and runs them", async () => {
    const examples = docExamples();
    examples.forEach((code, i) => writeFileSync(join(dir, `example-${i + 1}.mts`), code));
    const tsconfig = {
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      include: ['example-*.mts'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig)}\n`);
    const tsc = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    expect(tsc, tsc.stdout).toMatchObject({ code: 0 });
    for (let i = 1; i <= examples.length; i += 1) {
      const r = await run(process.execPath, ['--import', 'tsx', `example-${i}.mts`]);
      expect(r, `example ${i}: ${r.stderr}`).toMatchObject({ code: 0 });
    }
  }, SLOW);
});
