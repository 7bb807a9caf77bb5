/**
 * package.json's `engines` names the oldest Node the installed package runs on: the CLI colours
 * text with `util.styleText` (src/cli/render/term.ts), which Node added in v20.12.0; on an older
 * Node the import itself fails, so npm must warn before installing there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };

describe("package.json's engines", () => {
  it('asks for a Node that has util.styleText (v20.12.0 or later)', () => {
    const m = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(m, pkg.engines.node).not.toBeNull();
    const [major, minor] = [Number(m![1]), Number(m![2])];
    expect(major > 20 || (major === 20 && minor >= 12), pkg.engines.node).toBe(true);
  });
});
