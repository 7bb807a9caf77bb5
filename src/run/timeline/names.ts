/**
 * Which objects of the timeline's view a record may have changed. Two sets:
 *
 * - `explained`: the objects its derived records name (docs/log-format.md, "Derived records"), plus
 *   its own task and the locks that task holds before or after it. A derived record names an
 *   object by its fields: `object` (a `state` record), `container`+`iova`(+`size`) the vfio_dma
 *   and PTE runs in that range, `mm`/`pid`+`start`/`end`/`addr` the vmas in that range, `file`
 *   (a label: `container#5`, `group:1`, `device:<bdf>`) the files of that label, `pid`+`fd` the
 *   file installed there, `device`+`pasid` the SVA bond, `device`+`pasid`+`addr` the page request.
 * - `dirty`: `explained` plus what the record's stimulus names itself (its pid and fd and the file
 *   behind it, its device, its address ranges), the set the timeline recomputes.
 *
 * A change outside `explained` is a state change the log's derived records do not account for
 * (test/run/timeline.test.ts lists them).
 */
import type { Derived, Stimulus } from '../../vocab/records.js';
import type { Touched } from '../../core/tx.js';
import { hex, u64Text } from '../../log/u64.js';
import type { World } from '../../core/world.js';
import type { ObjectView } from './objects.js';

/** Range lookups over the world and over the view before the record (the timeline's index). */
export interface Lookup {
  readonly world: World;
  /** The view of `id` before the record. */
  before(id: string): ObjectView | undefined;
  /** Ids of kind `kind` (`vfio_dma`, `pte`, `vma`) of `owner` overlapping [start, end), in the view before the record. */
  beforeInRange(kind: string, owner: number, start: bigint, end: bigint): string[];
  /** Ids of a kind without a range (`file`, `sva_bond`) in the view before the record. */
  beforeOfKind(kind: 'file' | 'sva_bond'): Iterable<string>;
}

const PAGE = 0x1000n;

function big(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v !== 'string') return null;
  const b = u64Text(v);
  return typeof b === 'bigint' ? b : null;
}

/** Adds the vfio_dma and PTE runs of container `c` overlapping [start, end), now and before. */
function containerRange(out: Set<string>, l: Lookup, c: number, start: bigint, end: bigint): void {
  out.add(`container:${c}`);
  for (const k of l.beforeInRange('vfio_dma', c, start, end)) out.add(k);
  for (const k of l.beforeInRange('pte', c, start, end)) out.add(k);
  const t = l.world.containers.get(c)?.type1;
  if (t === undefined || t === null) return;
  const add = (kind: string, tree: { getPairOrNextLower(k: bigint): [bigint, { iova: bigint; size: bigint }] | undefined; forRange(lo: bigint, hi: bigint, incl: boolean, f: (k: bigint, v: { iova: bigint; size: bigint }) => void): unknown }): void => {
    const first = tree.getPairOrNextLower(start);
    if (first !== undefined && first[1].iova + first[1].size > start) out.add(`${kind}:${c}@${hex(first[0])}`);
    tree.forRange(start, end, false, (k) => void out.add(`${kind}:${c}@${hex(k)}`));
  };
  add('vfio_dma', t.dmas);
  if (t.domain !== null) add('pte', t.domain.ptes);
}

/** Adds the vmas of mm `m` overlapping [start, end), now and before. */
function mmRange(out: Set<string>, l: Lookup, m: number, start: bigint, end: bigint): void {
  out.add(`mm:${m}`);
  for (const k of l.beforeInRange('vma', m, start, end)) out.add(k);
  for (const v of l.world.mms.get(m)?.vmas ?? []) if (v.start < end && v.end > start) out.add(`vma:${m}@${hex(v.start)}`);
}

function processNamed(out: Set<string>, l: Lookup, pid: number): number | undefined {
  out.add(`process:${pid}`);
  const mm = l.world.processes.get(pid)?.mm;
  return mm;
}

/** The files a `file` label (src/kernel/fs/file.ts fileLabel) names, now and before. */
function filesOfLabel(out: Set<string>, l: Lookup, label: string): void {
  const matches = (v: ObjectView | undefined): boolean =>
    v !== undefined && (label === `container#${String(v['container'])}` && v['kind'] === 'container' || (v['kind'] === 'group' && label === `group:${String(v['group'])}`) || (v['kind'] === 'device' && label === `device:${String(v['device'])}`));
  const m = /^(container#|group:|device:)(.*)$/.exec(label);
  if (m !== null) out.add(m[1] === 'container#' ? `container:${m[2]}` : `${m[1]}${m[2]}`);
  for (const id of l.beforeOfKind('file')) if (matches(l.before(id))) out.add(id);
  for (const f of l.world.files.values()) {
    const v = { kind: f.kind, container: f.container ?? null, group: f.group ?? null, device: f.device ?? null };
    if (matches(v)) out.add(`file:${f.id}`);
  }
}

function fileOfFd(out: Set<string>, l: Lookup, pid: number, fd: number): void {
  const now = l.world.processes.get(pid)?.fds.get(fd);
  if (now !== undefined) out.add(`file:${now}`);
  const fds = l.before(`process:${pid}`)?.['fds'] as { [fd: string]: number } | undefined;
  const then = fds?.[String(fd)];
  if (then !== undefined) out.add(`file:${then}`);
}

/** The objects one derived record names. */
export function namedByDerived(out: Set<string>, l: Lookup, d: Derived): void {
  const obj = d['object'];
  if (typeof obj === 'string') out.add(obj.startsWith('bar_mapping:') ? `vma:${obj.slice('bar_mapping:'.length)}` : obj);
  const num = (k: string): number | undefined => (typeof d[k] === 'number' ? (d[k] as number) : undefined);
  const str = (k: string): string | undefined => (typeof d[k] === 'string' ? (d[k] as string) : undefined);
  const iova = big(d['iova']);
  const size = big(d['size']) ?? big(d['length']) ?? (num('npages') !== undefined ? BigInt(num('npages')!) * PAGE : num('npage') !== undefined ? BigInt(num('npage')!) * PAGE : PAGE);
  const c = num('container');
  if (c !== undefined) {
    if (iova !== null) containerRange(out, l, c, iova, iova + (size === 0n ? 1n : size));
    else out.add(`container:${c}`);
  }
  const dev = str('device');
  if (dev !== undefined) {
    out.add(`device:${dev}`);
    const g = l.world.devices.get(dev)?.group;
    const cont = g === undefined ? null : (l.world.groups.get(g)?.container ?? null);
    if (iova !== null && cont !== null && d.op.startsWith('mdev.')) containerRange(out, l, cont, iova, iova + size);
    const pasid = num('pasid');
    if (pasid !== undefined) {
      out.add(`sva_bond:${dev}/${pasid}`);
      const addr = big(d['addr']);
      // the address is in the PASID's address space (iommu_sva's mm)
      const pm = l.world.pasids.get(pasid)?.mm ?? null;
      if (addr !== null && pm !== null) mmRange(out, l, pm, addr, addr + 1n);
      if (addr !== null) {
        for (const r of l.world.pageRequests) if (r.device === dev && r.pasid === pasid && r.addr === addr) out.add(`page_request:${r.id}`);
      }
    }
  }
  const pasid = num('pasid');
  if (pasid !== undefined && (d.op.startsWith('pasid.') || d.op === 'sva.bound' || d.op === 'sva.unbound')) out.add(`pasid:${pasid}`);
  const g = str('group');
  if (g !== undefined) out.add(`group:${g}`);
  const start = big(d['start']);
  const end = big(d['end']);
  const addr = big(d['addr']);
  let mm = num('mm');
  const pid = num('pid');
  if (pid !== undefined) mm = processNamed(out, l, pid) ?? mm;
  const child = num('child');
  if (child !== undefined) {
    const cm = processNamed(out, l, child);
    // the child's mm is a copy of the parent's (dup_mmap): all its vmas
    if (cm !== undefined) mmRange(out, l, cm, 0n, 1n << 64n);
    // fork (copy_process) shares the parent's open files with the child: get_file on each
    for (const f of l.world.processes.get(child)?.fds.values() ?? []) out.add(`file:${f}`);
  }
  if (mm !== undefined) {
    if (start !== null && end !== null) mmRange(out, l, mm, start, end);
    else if (addr !== null) mmRange(out, l, mm, addr, addr + 1n);
    else out.add(`mm:${mm}`);
  }
  const fd = num('fd');
  if (pid !== undefined && fd !== undefined) fileOfFd(out, l, pid, fd);
  const label = str('file');
  if (label !== undefined) filesOfLabel(out, l, label);
  const task = str('task');
  if (task !== undefined) out.add(`task:${task}`);
}

/** A task's own object and the locks it holds before and after the record. */
function taskAndLocks(out: Set<string>, l: Lookup, name: string): void {
  out.add(`task:${name}`);
  for (const h of l.world.tasks.get(name)?.held ?? []) out.add(`lock:${h.id}`);
  const held = l.before(`task:${name}`)?.['held'];
  if (Array.isArray(held)) for (const h of held) if (typeof h === 'string') out.add(`lock:${h.slice(0, h.lastIndexOf(' ('))}`);
}

/** What the stimulus itself names: its pid, fd, device, address ranges. */
function namedByStimulus(out: Set<string>, l: Lookup, s: Stimulus): void {
  const r = s as unknown as Record<string, unknown>;
  const pid = typeof r['pid'] === 'number' ? r['pid'] : undefined;
  const mm = pid === undefined ? undefined : processNamed(out, l, pid);
  if (mm !== undefined) out.add(`mm:${mm}`);
  if (pid !== undefined && typeof r['fd'] === 'number') fileOfFd(out, l, pid, r['fd']);
  // the process's fd table: the files it holds now and held before
  if (pid !== undefined) {
    for (const f of l.world.processes.get(pid)?.fds.values() ?? []) out.add(`file:${f}`);
    const fds = l.before(`process:${pid}`)?.['fds'];
    if (typeof fds === 'object' && fds !== null) for (const f of Object.values(fds)) out.add(`file:${String(f)}`);
  }
  if (typeof r['device'] === 'string') {
    out.add(`device:${r['device']}`);
    // sva.bind / sva.unbind name the bond of (device, the pid's mm)
    if (pid !== undefined) {
      const prefix = `sva_bond:${r['device']}/`;
      for (const id of l.beforeOfKind('sva_bond')) if (id.startsWith(prefix) && l.before(id)?.['pid'] === pid) out.add(id);
      for (const b of l.world.bonds) if (b.device === r['device'] && b.pid === pid) out.add(`sva_bond:${b.device}/${b.pasid}`);
    }
  }
  const addr = typeof r['addr'] === 'bigint' ? r['addr'] : undefined;
  const len = typeof r['length'] === 'bigint' ? r['length'] : 1n;
  if (mm !== undefined && addr !== undefined) mmRange(out, l, mm, addr, addr + len);
  if (s.op === 'ioctl' && typeof s.arg === 'object' && s.arg !== null && pid !== undefined) {
    const a = s.arg as Record<string, unknown>;
    const vaddr = big(a['vaddr']);
    const size = big(a['size']) ?? PAGE;
    if (vaddr !== null && mm !== undefined) mmRange(out, l, mm, vaddr, vaddr + size);
    // MAP_DMA / UNMAP_DMA name the IOVA range of the fd's container
    const iova = big(a['iova']);
    const fid = l.world.processes.get(pid)?.fds.get(s.fd);
    const c = fid === undefined ? undefined : l.world.files.get(fid)?.container;
    if (iova !== null && c !== undefined) containerRange(out, l, c, iova, iova + (size === 0n ? 1n : size));
  }
}

/** What the path's Touched record (src/core/tx.ts) says it changed. */
function namedByTouched(out: Set<string>, l: Lookup, t: Touched): void {
  for (const c of t.containers) out.add(`container:${c}`);
  for (const m of t.mms) out.add(`mm:${m}`);
  for (const d of [...t.dmas, ...t.pinChanges]) containerRange(out, l, d.container, d.iova, d.iova + 1n);
  for (const p of t.ptes) containerRange(out, l, p.container, p.iova, p.iova + (p.size === 0n ? 1n : p.size));
}

/**
 * The objects a named file, group or device belongs to: a file's container, group or device, a
 * device's group, a group's container (now and before). The timeline recomputes them too.
 */
function expandOwners(out: Set<string>, l: Lookup): void {
  const view = (id: string): ObjectView | undefined => l.before(id);
  const add = (id: string): void => void out.add(id);
  for (const id of [...out]) {
    if (id.startsWith('file:')) {
      const f = l.world.files.get(Number(id.slice(5)));
      const v = view(id);
      for (const x of [f?.container, v?.['container']]) if (typeof x === 'number') add(`container:${x}`);
      for (const x of [f?.group, v?.['group']]) if (typeof x === 'string') add(`group:${x}`);
      for (const x of [f?.device, v?.['device']]) if (typeof x === 'string') add(`device:${x}`);
    }
  }
  for (const id of [...out]) {
    const v = view(id);
    if (id.startsWith('vma:') && typeof v?.['file'] === 'number') add(`file:${v['file']}`);
    if (id.startsWith('task:')) {
      for (const f of l.world.tasks.get(id.slice(5))?.deferred ?? []) add(`file:${f}`);
      const before = v?.['deferred'];
      if (Array.isArray(before)) for (const f of before) add(`file:${String(f)}`);
    }
    if (id.startsWith('vfio_dma:')) {
      const at = id.indexOf('@');
      const d = l.world.containers.get(Number(id.slice(9, at)))?.type1?.dmas.get(BigInt(id.slice(at + 1)));
      for (const m of [d?.mm, v?.['mm']]) if (typeof m === 'number') add(`mm:${m}`);
      // the user memory behind it: a pin faults the pages in (vaddr_get_pfns)
      if (d !== undefined) mmRange(out, l, d.mm, d.vaddr, d.vaddr + d.size);
    }
  }
  for (const id of [...out]) {
    if (id.startsWith('device:')) {
      const g = l.world.devices.get(id.slice(7))?.group;
      if (g !== undefined) add(`group:${g}`);
    }
  }
  for (const id of [...out]) {
    if (id.startsWith('group:')) {
      const c = l.world.groups.get(id.slice(6))?.container;
      const b = view(id)?.['container'];
      for (const x of [c, b]) if (typeof x === 'number') add(`container:${x}`);
    }
  }
}

export interface Named {
  readonly explained: Set<string>;
  readonly dirty: Set<string>;
}

/** The objects a record (a stimulus or a step record, with its derived records) names. */
export function namedBy(s: Stimulus, derived: readonly Derived[], l: Lookup, touched?: Touched, returned?: Stimulus): Named {
  const explained = new Set<string>();
  for (const d of derived) namedByDerived(explained, l, d);
  if (s.task !== undefined) taskAndLocks(explained, l, s.task);
  const dirty = new Set(explained);
  namedByStimulus(dirty, l, s);
  // a step record runs its task's stimulus: what that stimulus names
  if (s.op === 'step') {
    const cur = l.world.tasks.get(s.task)?.current?.stimulus ?? returned;
    if (cur !== undefined) namedByStimulus(dirty, l, cur);
  }
  if (touched !== undefined) namedByTouched(dirty, l, touched);
  expandOwners(dirty, l);
  return { explained, dirty };
}
