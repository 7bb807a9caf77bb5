/**
 * The installed command as a shell runs it (bin/iommu-model.js over dist/, which `npm ci` and
 * `npm run build` make): a reader that closes the pipe early ends it quietly.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/iommu-model.js', import.meta.url));

describe('bin/iommu-model.js', () => {
  it('exits 0 with nothing on stderr when its reader closes the pipe (iommu-model scenarios | head -1)', async () => {
    const child = spawn(process.execPath, [bin, 'scenarios'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
