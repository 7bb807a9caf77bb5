/**
 * docs/api.md's examples run: each ```ts block is written to a file of its own, with
 * 'iommu-model' pointing at src/index.ts, and imported; its asserts are the test.
 * (test/package/ runs them again against the installed package, type-checked.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { docExamples } from './doc-examples.js';

const entry = pathToFileURL(fileURLToPath(new URL('../../src/index.ts', import.meta.url))).href;
const dir = mkdtempSync(join(tmpdir(), 'iommu-model-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/api.md', () => {
  const blocks = docExamples();
  it('has an example for each function of the API', () => {
    for (const f of ['createModel', 'replay', 'check', 'explain', 'loadScheme', 'defineScheme']) expect(blocks.some((b) => b.includes(`${f}(`))).toBe(true);
    for (const b of blocks) expect(b).toMatch(/from 'iommu-model';/);
  });
  it.each(blocks.map((b, i) => [i + 1, b] as const))('example %i runs', async (i, block) => {
    const file = join(dir, `example-${i}.ts`);
    writeFileSync(file, block.replaceAll("from 'iommu-model'", `from '${entry}'`));
    await import(pathToFileURL(file).href);
  });
});
