/**
 * The timeline (src/run/timeline.ts) against the live world, on every golden log and built-in
 * scenario, replayed as recordings (with their derived records, as `replay --record` writes them):
 * (a) at every record the incrementally built view equals the view recomputed from the world, so
 *     the objects a record names (src/run/timeline/names.ts) miss none it changed;
 * (b) at(p), from checkpoints and patches, forwards or backwards, equals the view seen live at p;
 * (c) every patch of a record names an object one of its derived records names (or its own task
 *     and locks); the changes no derived record accounts for are listed in UNEXPLAINED.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { recordLines, replayItems } from '../../src/run/replay.js';
import { buildTimeline, type View } from '../../src/run/timeline.js';
import { defineScheme, type Scheme } from '../../src/schemes/scheme.js';
import { fullView, kindOf } from '../../src/run/timeline/objects.js';
import { sameJson } from '../../src/run/timeline/json.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dirs = [join(root, 'test', 'fixtures'), join(root, 'test', 'fixtures', 'races'), join(root, 'src', 'scenarios')];
const logs = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(d, f)));

/** The race logs that run under a scheme file (test/races.test.ts passes the same). */
const SCHEME_FILES: Record<string, string> = {
  'interval-retry.jsonl': 'interval-notifier',
  'map-vs-munmap-notifier-allocates.jsonl': 'notifier-allocates',
  'map-vs-munmap-notifier-lock.jsonl': 'notifier-takes-iommu-lock',
};
const schemes = new Map<string, Scheme>();
for (const [log, name] of Object.entries(SCHEME_FILES)) {
  const mod = (await import(pathToFileURL(join(root, 'test', 'fixtures', 'schemes', `${name}.mjs`)).href)) as { default: Scheme };
  schemes.set(log, defineScheme(mod.default));
}
const schemeOf = (file: string): Scheme | undefined => schemes.get(file.slice(file.lastIndexOf('/') + 1));

/** The log as `replay --record` writes it: each stimulus with its outcome and derived records. */
function recording(file: string): string {
  const { header, items } = parseLog(readFileSync(file, 'utf8'), file);
  const lines = [JSON.stringify(header)];
  replayItems(header, items, file, (step) => lines.push(...recordLines(step)), schemeOf(file));
  return `${lines.join('\n')}\n`;
}

function build(file: string, every: number) {
  const { header, items } = parseLog(recording(file), file);
  const live: View[] = [{ objects: new Map() }];
  const mismatches: string[] = [];
  const built = buildTimeline(header, items, {
    file,
    every,
    ...(schemeOf(file) === undefined ? {} : { scheme: schemeOf(file)! }),
    keepExplained: true,
    onStep: (st, world, view) => {
      live.push(view);
      const full = fullView(world);
      const ids = new Set([...Object.keys(full), ...view.objects.keys()]);
      const bad = [...ids].filter((id) => full[id] === undefined || view.objects.get(id) === undefined || !sameJson(full[id], view.objects.get(id)!));
      if (bad.length > 0 && mismatches.length < 3) {
        mismatches.push(`record ${st.stimulus.seq} ${st.stimulus.op}: ${bad.map((id) => `${id} view ${JSON.stringify(view.objects.get(id))} world ${JSON.stringify(full[id])}`).join('; ')}`);
      }
    },
  });
  return { ...built, live, mismatches };
}

describe('timeline: incremental view equals the world recomputed (a)', () => {
  it('there are logs', () => expect(logs.length).toBeGreaterThan(20));
  it.each(logs.map((f) => [f.slice(root.length + 1), f]))('%s', (_name, file) => {
    const { mismatches, timeline } = build(file, 1024);
    expect(timeline.length).toBeGreaterThan(0);
    expect(mismatches).toEqual([]);
  });
});

describe('timeline: at(p) from checkpoints and patches equals the live view (b)', () => {
  it.each(logs.map((f) => [f.slice(root.length + 1), f]))('%s', (_name, file) => {
    // checkpoints every 4 records, so that short logs go both ways from a checkpoint
    const { timeline, live } = build(file, 4);
    fc.assert(
      fc.property(fc.nat({ max: timeline.length }), fc.nat({ max: timeline.length }), (p, q) => {
        expect(timeline.at(p)).toEqual(live[p]);
        // then a step back from q, by its inverse patches, as `prev` does
        expect(timeline.at(q)).toEqual(live[q]);
        if (q > 0) expect(timeline.at(q - 1)).toEqual(live[q - 1]);
      }),
      { seed: 20260101, numRuns: 60 },
    );
  });
});

/**
 * Changes no derived record of the record names: `<op>: <object kind>.<field>`. Each is a gap in
 * the log's derived records (docs/navigation.md lists them); the test fails on any other.
 */
const UNEXPLAINED = new Set<string>([
  // process.spawn has no derived record: the process, its mm and its tty files 0-2 appear unseen
  'process.spawn: process.(created)',
  'process.spawn: mm.(created)',
  'process.spawn: file.(created)',
  // a tty file's last fput (src/kernel/fs/file.ts) emits no file.released
  'exit: file.(removed)',
  'exit.files: file.(removed)',
  // f_count: get_file/fput that are not the last reference emit nothing (fork, GET_DEVICE_FD's
  // reference on the group file, a BAR vma's vm_file, close of a shared fd)
  'close: file.refs',
  'close: process.fds',
  'ioctl: file.refs',
  'mmap: file.refs',
  'exit: file.refs',
  'exit.files: file.refs',
  'exit.unmap: file.refs',
  'task_work (____fput): file.refs',
  // vfio_group.container_users (vfio_device_group_open / _close) has no derived record
  'ioctl: group.container_users',
  'close: group.container_users',
  'task_work (____fput): group.container_users',
  // an mdev's registration on iommu->device_list (vfio_register_iommu_driver's ops->register_device)
  'ioctl: container.device_list',
  // mmgrab/mmdrop of a vfio_dma's mm (vfio_dma_do_map, vfio_remove_dma): mm_count unrecorded
  'ioctl: mm.count',
  'map_dma.lock: mm.count',
  'map_dma.unwind: mm.count',
  'unmap_dma.lock: mm.count',
  // vfio_link_dma: the dma is in dma_list (and dma_avail taken) before dma.mapped says so
  'map_dma.lock: vfio_dma.(created)',
  'map_dma.lock: container.dma_avail',
  // locked_vm names the mm; the dma's own locked_vm share moves with it
  'map_dma.account: vfio_dma.locked_vm',
  // the first touch or pin of anonymous memory gives it backing: no derived record
  'ioctl: vma.phys',
  'touch: vma.phys',
  'map_dma.pin: vma.phys',
  'mdev.pin_pages: vma.phys',
  'mdev.dma_rw: vma.phys',
  // an interval notifier's invalidate_seq moves (mmu_interval_set_seq) with no record of its own
  'map_dma.unwind: mm.intervals',
  'zap.callback: mm.intervals',
  // iommu_sva_unbind_device drops the handle's users under iommu_sva_lock before sva.unbound
  'sva_unbind.lock: sva_bond.users',
]);

describe('timeline: every patch is explained by a derived record (c)', () => {
  const seen = new Set<string>();
  it.each(logs.map((f) => [f.slice(root.length + 1), f]))('%s', (_name, file) => {
    const { timeline, explained } = build(file, 1024);
    const found: string[] = [];
    timeline.records.forEach((r, i) => {
      for (const p of timeline.patchesOf(i).forward) {
        const id = String(p.path[1]);
        if (explained![i]!.has(id)) continue;
        const field = p.path.length > 2 ? String(p.path[2]) : p.op === 'add' ? '(created)' : '(removed)';
        const what = `${r.step ?? r.op}: ${kindOf(id).kind}.${field}`;
        seen.add(what);
        if (!UNEXPLAINED.has(what)) found.push(`record ${r.seq} ${what} (${id})`);
      }
    });
    expect(found).toEqual([]);
  });
  it('lists no exception that never happens', () => {
    for (const u of UNEXPLAINED) expect(seen.has(u), u).toBe(true);
  });
});
