// Time to the first deadlock, end to end (process start to exit): `check` on map-vs-munmap under
// the naive notifier scheme, against SPIN's pan on bench/map-vs-munmap.pml (the same race) when
// `spin` and a C compiler are on PATH; the two interleaved.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG, until } from './config.mjs';
import { interleave, runProcess, stats } from './measure.mjs';

const say = (s) => process.stderr.write(`${s}\n`);

/** pan built from the model in a directory of its own (pan writes its trail file there), or why not. */
async function buildPan(root) {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-model-bench-pan-'));
  const spin = await runProcess('spin', ['-a', join(root, 'bench', 'map-vs-munmap.pml')], { cwd: dir });
  if (spin.code !== 0) return { why: spin.code === -1 ? 'spin not installed' : `spin -a failed: ${spin.stderr.trim().slice(0, 200)}` };
  const cc = await runProcess('cc', ['-O2', '-DSAFETY', '-o', 'pan', 'pan.c'], { cwd: dir });
  if (cc.code !== 0) return { why: cc.code === -1 ? 'no C compiler (cc) to build pan' : `cc pan.c failed: ${cc.stderr.trim().slice(0, 200)}` };
  const version = (await runProcess('spin', ['-V'], { cwd: dir })).stdout.trim();
  return { dir, version, compileMs: spin.wallMs + cc.wallMs };
}

export async function deadlockSection(root) {
  say('time to the first deadlock: map-vs-munmap, notifier-takes-iommu-lock');
  const pan = await buildPan(root);
  const bin = join(root, 'bin', 'iommu-model.js');
  const scheme = join(root, 'test', 'fixtures', 'schemes', 'notifier-takes-iommu-lock.mjs');
  const check = () => runProcess(process.execPath, [bin, 'check', '--scenario', 'map-vs-munmap', '--scheme', scheme, '--json'], { cwd: root }).then((r) => ({ ...r, ms: r.wallMs }));
  const runPan = () => runProcess(join(pan.dir, 'pan'), [], { cwd: pan.dir }).then((r) => ({ ...r, ms: r.wallMs }));
  const variants = pan.why === undefined ? [check, runPan] : [check];
  const [c, p] = await interleave(variants, until(1) > 5_000 ? CONFIG.deadlockPairs : { min: 3, max: 3 });
  let found = false;
  try { found = JSON.parse(c.at(-1).stdout).properties?.NoDeadlock === 'violated'; } catch { /* reported below */ }
  const panFound = p === undefined ? null : /invalid end state/.test(p.at(-1).stdout);
  const out = {
    check: stats(c.map((r) => r.ms)),
    checkFound: found,
    ...(p === undefined ? { panWhy: pan.why } : { pan: stats(p.map((r) => r.ms)), panFound, panVersion: pan.version, panCompileMs: pan.compileMs }),
  };
  say(`  check ${(out.check.median / 1000).toFixed(3)} s (deadlock ${found ? 'found' : 'NOT found'}); ${p === undefined ? `${pan.why}: the issue's anchor is 0.09-0.10 s` : `pan ${(out.pan.median / 1000).toFixed(3)} s`}`);
  return out;
}
