/**
 * The path machines and their steps files are one hop from each other: each machine's header
 * names its steps file, each steps file defines exactly the steps of its machine's states (the
 * types check the events), and each step names the kernel function it mirrors.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PATH_CONFIGS, type PathMachineName } from '../../machines/paths/index.js';
import { ENTRY_POINTS } from '../../src/kernel/entry.js';
import { PATHS } from '../../src/paths/index.js';
import type { PathDef } from '../../src/paths/types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const machineDir = join(root, 'machines', 'paths');

/** A kernel source location: a file of the kernel tree (or its documentation), and usually a function. */
const KERNEL_SOURCE = /\b(drivers|mm|kernel|fs|include|arch)\/[\w/.-]+\.(c|h)\b|Documentation\/[\w/.-]+\.rst/;

function nonFinalStates(name: PathMachineName): string[] {
  const states = PATH_CONFIGS[name].states as Record<string, { type?: string }>;
  return Object.keys(states).filter((s) => states[s]!.type !== 'final').sort();
}

const paths = Object.entries(PATHS) as Array<[string, PathDef]>;

describe('path steps', () => {
  it.each(paths)('%s has one step for each state of its machine that runs, and no other', (_name, def) => {
    expect(Object.keys(def.steps).sort()).toEqual(nonFinalStates(def.machine));
  });

  it.each(paths)('every step of %s names the kernel function it mirrors', (name, def) => {
    for (const [state, step] of Object.entries(def.steps)) {
      const cites = name === 'atomic' ? /src\/kernel\/entry\.ts/ : KERNEL_SOURCE;
      expect(step.mirrors, `${name}.${state}`).toMatch(cites);
    }
  });

  it('every single-step entry point names the kernel function it mirrors', () => {
    for (const [op, entry] of Object.entries(ENTRY_POINTS)) {
      if (op.startsWith('host.') || op === 'process.spawn' || op === 'device.dma' || op === 'device.stop_pasid') continue; // declarations of the host and device behaviour, not kernel entry points
      expect(entry.mirrors, op).toMatch(KERNEL_SOURCE);
    }
  });

  it('every path machine is run by some path', () => {
    const used = new Set(paths.map(([, d]) => d.machine));
    expect([...used].sort()).toEqual(Object.keys(PATH_CONFIGS).sort());
  });
});

describe('path machine headers', () => {
  const files = readdirSync(machineDir).filter((f) => f.endsWith('.machine.ts')).sort();

  it.each(files)('%s names a steps file that defines the paths of this machine', async (file) => {
    const text = readFileSync(join(machineDir, file), 'utf8');
    const m = /\* Steps: (src\/paths\/[\w-]+\.ts)/.exec(text);
    expect(m, `${file} has no "Steps: src/paths/<file>.ts" line`).not.toBeNull();
    const mod = (await import(pathToFileURL(join(root, m![1]!)).href)) as Record<string, unknown>;
    const id = /id: '(\w+)'/.exec(text)![1];
    const defs = Object.values(mod).filter((v): v is PathDef => typeof v === 'object' && v !== null && 'steps' in v && 'machine' in v);
    expect(defs.length, `${m![1]} exports no path`).toBeGreaterThan(0);
    for (const d of defs) expect(d.machine).toBe(id);
  });
});
