/**
 * tsx (the TypeScript loader) is loaded only when a .ts scheme file is: a built-in scheme or a
 * JavaScript scheme file does not pay for it (about 80 ms of a cold command).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const loaded = vi.hoisted(() => ({ tsx: 0 }));
vi.mock('tsx/esm/api', async (importOriginal) => {
  loaded.tsx += 1;
  return importOriginal();
});

const { loadScheme } = await import('../../src/cli/resolve.js');

const SCHEME = "{ name: 'mine', summary: 'interval notifier', source: 'a test', pfnmap: 'interval' }";

describe('loading tsx', () => {
  it('a built-in scheme and a .mjs scheme file load without tsx; a .ts scheme file loads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iommu-model-lazy-tsx-'));
    expect((await loadScheme('upstream')).name).toBe('upstream');
    writeFileSync(join(dir, 'mine.mjs'), `export default ${SCHEME};\n`);
    expect((await loadScheme(join(dir, 'mine.mjs'))).name).toBe('mine');
    expect(loaded.tsx).toBe(0);
    writeFileSync(join(dir, 'mine.ts'), `export default ${SCHEME};\n`);
    expect((await loadScheme(join(dir, 'mine.ts'))).name).toBe('mine');
    expect(loaded.tsx).toBe(1);
  });
});
