/**
 * Trace events in, a log out (docs/log-format.md) with the observations the trace makes about the
 * IOMMU page table, for src/run/trace-check.ts to compare with the model after each stimulus
 * (docs/importers.md, ftrace). Pure.
 *
 * What the kernel emits, and so what the importer synthesises (drivers/vfio/vfio_iommu_type1.c):
 * - VFIO_IOMMU_MAP_DMA -> vfio_pin_map_dma pins one physically contiguous run at a time and
 *   vfio_iommu_map calls iommu_map for it once per domain: a MAP_DMA is a run of `map` events,
 *   each starting where the one before ended. The importer makes one MAP_DMA of each run (cut
 *   where a later UNMAP_DMA begins or ends, so that no unmap bisects it: type1v2's rule in
 *   vfio_dma_do_unmap), backed by an anonymous mmap.
 * - VFIO_IOMMU_UNMAP_DMA -> vfio_remove_dma -> vfio_unmap_unpin unmaps "the largest contiguous
 *   physical chunk" at a time (unmap_unpin_fast / iommu_unmap_fast): a run of `unmap` events,
 *   one UNMAP_DMA; its `expect.out.size` is what the trace says was unmapped.
 * - An `unmap` of a range the trace never mapped was mapped before the recording began: the
 *   importer maps it at the start.
 * - `io_page_fault` -> a device.dma of one byte at the IOVA, write when flags has
 *   IOMMU_FAULT_WRITE (include/linux/iommu.h); `expect: {dma: "fault"}`, since the IOMMU faulted.
 * - `attach_device_to_domain`, `add_device_to_group`, `io_page_fault` name devices: each is a
 *   host.device in its group (groupID when the trace has it), opened and attached to the one
 *   container at the start.
 *
 * Physical addresses are not compared: the model allocates its own (RAM_BASE upwards), so only
 * IOVA ranges and sizes are. The trace's map and unmap events name no domain: with two or more
 * devices attached, a `map` of a range already mapped is taken as another domain's copy
 * (vfio_iommu_map maps each domain; vfio_iommu_replay maps a new one) and an `unmap` of a range
 * already unmapped likewise; with one device either is a finding.
 */
import { InputError } from '../vocab/errors.js';
import type { JsonValue } from '../vocab/records.js';
import { hex } from '../log/u64.js';
import type { ParsedTrace, TraceEvent } from './ftrace.js';
import { RangeSet, type Range } from './ranges.js';

/** include/uapi/linux/vfio.h: VFIO_TYPE ';' (0x3b), VFIO_BASE 100; _IO(type, nr) = type << 8 | nr. */
export const VFIO_IOCTLS: ReadonlyMap<bigint, string> = new Map([
  [0x3b66n, 'VFIO_SET_IOMMU'], // VFIO_BASE + 2
  [0x3b68n, 'VFIO_GROUP_SET_CONTAINER'], // VFIO_BASE + 4
  [0x3b71n, 'VFIO_IOMMU_MAP_DMA'], // VFIO_BASE + 13
  [0x3b72n, 'VFIO_IOMMU_UNMAP_DMA'], // VFIO_BASE + 14
]);
/** The ioctls during which iommu_map runs for a container: MAP_DMA, and attaching a group (vfio_iommu_replay). */
const MAPPING_IOCTLS = new Set(['VFIO_IOMMU_MAP_DMA', 'VFIO_SET_IOMMU', 'VFIO_GROUP_SET_CONTAINER']);

/** What the trace says, to be compared with the model after the stimulus `seq`. */
export type Observation =
  | { readonly kind: 'map'; readonly seq: number; readonly lines: readonly number[]; readonly iova: bigint; readonly end: bigint }
  | {
      readonly kind: 'unmap';
      readonly seq: number;
      readonly lines: readonly number[];
      readonly iova: bigint;
      readonly end: bigint;
      readonly unmapped: bigint;
      /** What the trace still maps in [iova, end) after these unmaps. */
      readonly leftInTrace: readonly Range[];
    }
  | {
      readonly kind: 'fault';
      readonly seq: number;
      readonly line: number;
      readonly device: string;
      readonly iova: bigint;
      readonly write: boolean;
      /** The trace line of the last unmap of this IOVA before the fault, if any. */
      readonly unmappedAt: number | null;
    };

/** A finding the trace alone shows (a map during no ioctl that maps), found at import time. */
export interface ImportFinding {
  readonly kind: 'unexplained-map';
  readonly line: number;
  readonly iova: bigint;
  readonly end: bigint;
  readonly detail: string;
}

export interface ImportedLog {
  readonly header: { [k: string]: JsonValue };
  /** The stimuli; record i is line i + 2 of the log, so its seq is i + 2. */
  readonly records: Array<{ [k: string]: JsonValue }>;
  readonly observations: readonly Observation[];
  readonly findings: readonly ImportFinding[];
  /** Events used, by kind; and the ones set aside as another domain's copy. */
  readonly counts: Readonly<Record<string, number>>;
}

/** Where the synthesised process's anonymous memory starts (the model's mmap base). */
const VADDR_BASE = 0x7f0000000000n;
/** TASK_SIZE on x86-64 with 4-level paging, as the model has it. */
const TASK_SIZE = 0x7ffffffff000n;
const CONTAINER_FD = 3;

interface MapRun {
  readonly kind: 'maprun';
  readonly pid: number;
  start: bigint;
  end: bigint;
  readonly lines: number[];
}
interface UnmapRun {
  readonly kind: 'unmaprun';
  readonly pid: number;
  start: bigint;
  end: bigint;
  unmapped: bigint;
  readonly lines: number[];
  leftInTrace: Range[];
}
type Item = MapRun | UnmapRun | { readonly kind: 'fault'; readonly ev: Extract<TraceEvent, { kind: 'fault' }>; readonly unmappedAt: number | null };

export function ftraceToLog(parsed: ParsedTrace, file: string): ImportedLog {
  const events = parsed.events;
  const counts: Record<string, number> = {};
  const count = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };

  // The devices, in the order the trace names them, with the group add_device_to_group gives.
  const devices = new Map<string, { group: number | null; line: number; why: string }>();
  const attached = new Set<string>();
  for (const e of events) {
    if (e.kind === 'attach') attached.add(e.device);
    if (e.kind === 'group_add') {
      const d = devices.get(e.device);
      if (d === undefined) devices.set(e.device, { group: e.group, line: e.line, why: 'add_device_to_group' });
      else if (d.group === null) d.group = e.group;
    } else if (e.kind === 'attach' || e.kind === 'fault') {
      if (!devices.has(e.device)) devices.set(e.device, { group: null, line: e.line, why: e.kind === 'attach' ? 'attach_device_to_domain' : 'io_page_fault' });
    }
  }
  const manyDomains = attached.size >= 2;

  // Pass 1: runs of maps and unmaps, the trace's page table as it goes, what was mapped before
  // the recording began, and the IOVAs where an unmap begins or ends (a MAP_DMA is cut there).
  const items: Item[] = [];
  const findings: ImportFinding[] = [];
  const mapped = new RangeSet();
  const seen = new RangeSet();
  const before = new RangeSet();
  const beforeLines = new Map<bigint, number>();
  const cuts = new Set<bigint>();
  const inIoctl = new Map<number, { name: string | null; line: number }>();
  const unmaps: Array<Extract<TraceEvent, { kind: 'unmap' }>> = [];
  const syscalls = events.some((e) => e.kind === 'ioctl_enter');
  let run: MapRun | UnmapRun | null = null;
  for (const e of events) {
    switch (e.kind) {
      case 'map': {
        const end = e.iova + e.size;
        if (manyDomains && mapped.covers(e.iova, end)) {
          count('map (another domain)');
          break;
        }
        count('map');
        if (syscalls) {
          const call = inIoctl.get(e.pid);
          if (call === undefined || call.name === null || !MAPPING_IOCTLS.has(call.name)) {
            findings.push({ kind: 'unexplained-map', line: e.line, iova: e.iova, end, detail: `no VFIO_IOMMU_MAP_DMA (or group attach) ioctl was in flight on pid ${e.pid} (${e.comm})${call === undefined ? '' : `: line ${call.line} entered ${call.name ?? 'another ioctl'}`}` });
          }
        }
        mapped.add(e.iova, end);
        seen.add(e.iova, end);
        if (run !== null && run.kind === 'maprun' && run.pid === e.pid && run.end === e.iova) {
          run.end = end;
          run.lines.push(e.line);
        } else {
          run = { kind: 'maprun', pid: e.pid, start: e.iova, end, lines: [e.line] };
          items.push(run);
        }
        break;
      }
      case 'unmap': {
        const end = e.iova + e.unmapped;
        if (manyDomains && e.unmapped > 0n && mapped.within(e.iova, end).length === 0 && seen.covers(e.iova, end)) {
          count('unmap (another domain)');
          break;
        }
        count('unmap');
        unmaps.push(e);
        for (const [s, t] of seen.missing(e.iova, end)) {
          before.add(s, t);
          if (!beforeLines.has(s)) beforeLines.set(s, e.line);
          seen.add(s, t);
        }
        mapped.remove(e.iova, end);
        if (run !== null && run.kind === 'unmaprun' && run.pid === e.pid && run.end === e.iova) {
          run.end = e.iova + e.size;
          run.unmapped += e.unmapped;
          run.lines.push(e.line);
        } else {
          run = { kind: 'unmaprun', pid: e.pid, start: e.iova, end: e.iova + e.size, unmapped: e.unmapped, lines: [e.line], leftInTrace: [] };
          items.push(run);
        }
        run.leftInTrace = mapped.within(run.start, run.end);
        break;
      }
      case 'fault': {
        count('io_page_fault');
        run = null;
        let unmappedAt: number | null = null;
        for (let i = unmaps.length - 1; i >= 0; i -= 1) {
          const u = unmaps[i]!;
          if (u.iova <= e.iova && e.iova < u.iova + u.unmapped) {
            unmappedAt = u.line;
            break;
          }
        }
        items.push({ kind: 'fault', ev: e, unmappedAt });
        break;
      }
      case 'ioctl_enter':
        count('sys_enter_ioctl');
        inIoctl.set(e.pid, { name: VFIO_IOCTLS.get(e.cmd) ?? null, line: e.line });
        break;
      case 'ioctl_exit':
        count('sys_exit_ioctl');
        inIoctl.delete(e.pid);
        break;
      default:
        count(e.kind === 'attach' ? 'attach_device_to_domain' : e.kind === 'detach' ? 'detach_device_from_domain' : e.kind === 'group_add' ? 'add_device_to_group' : 'remove_device_from_group');
    }
  }
  for (const it of items) {
    if (it.kind === 'unmaprun') {
      cuts.add(it.start);
      cuts.add(it.end);
    }
  }
  if (items.length === 0) throw new InputError(file, null, null, 'the trace has no iommu map, unmap or io_page_fault event (record with `trace-cmd record -e iommu`)');

  // Pass 2: the log.
  const records: Array<{ [k: string]: JsonValue }> = [];
  const observations: Observation[] = [];
  const seqOfNext = (): number => records.length + 2;
  const firstPid = events.find((e) => e.kind === 'map' || e.kind === 'unmap')?.pid ?? 0;
  const pid = firstPid > 0 ? firstPid : 1;

  if (devices.size === 0) devices.set('0000:00:00.0', { group: null, line: 0, why: 'placeholder' });
  const groups = new Set([...devices.values()].flatMap((d) => (d.group === null ? [] : [d.group])));
  let nextGroup = 1;
  for (const [name, d] of devices) {
    if (d.group === null) {
      while (groups.has(nextGroup)) nextGroup += 1;
      d.group = nextGroup;
      groups.add(nextGroup);
    }
    const said = d.why === 'placeholder' ? 'a placeholder: the trace names no device' : `line ${d.line}: ${d.why}`;
    records.push({ op: 'host.device', device: name, group: d.group, comment: `${said}${d.why === 'add_device_to_group' ? '' : '; group number synthesised'}` });
  }
  records.push({ op: 'process.spawn', pid, cap_ipc_lock: true, comment: `pid of the first map or unmap event's task${firstPid > 0 ? '' : ' (pid 0 there: 1 instead)'}; CAP_IPC_LOCK so that locked_vm never limits` });
  records.push({ op: 'open', pid, path: '/dev/vfio/vfio', expect: { ret: CONTAINER_FD } });
  let fd = CONTAINER_FD + 1;
  const opened = new Set<number>();
  for (const d of devices.values()) {
    if (opened.has(d.group!)) continue;
    opened.add(d.group!);
    records.push({ op: 'open', pid, path: `/dev/vfio/${d.group}`, expect: { ret: fd } });
    records.push({ op: 'ioctl', pid, fd, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: CONTAINER_FD }, expect: { ret: 0 } });
    fd += 1;
  }
  records.push({ op: 'ioctl', pid, fd: CONTAINER_FD, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU', expect: { ret: 0 } });

  let vaddr = VADDR_BASE;
  const mapDma = (start: bigint, end: bigint, lines: readonly number[], comment: string): void => {
    const size = end - start;
    if (vaddr + size > TASK_SIZE) throw new InputError(file, lines[0] ?? null, 'map', `the maps live at once need more user address space than the model's process has (${hex(TASK_SIZE - VADDR_BASE)} bytes from ${hex(VADDR_BASE)})`);
    records.push({ op: 'mmap', pid, addr: hex(vaddr), length: hex(size), expect: { ret: hex(vaddr) } });
    observations.push({ kind: 'map', seq: seqOfNext(), lines, iova: start, end });
    records.push({ op: 'ioctl', pid, fd: CONTAINER_FD, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(vaddr), iova: hex(start), size: hex(size) }, expect: { ret: 0 }, comment });
    vaddr += size;
  };
  const sortedCuts = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  /** [start, end) cut at every IOVA where an unmap run begins or ends. */
  const pieces = (start: bigint, end: bigint): Range[] => {
    let lo = 0;
    let hi = sortedCuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortedCuts[mid]! <= start) lo = mid + 1;
      else hi = mid;
    }
    const out: Range[] = [];
    let s = start;
    for (let i = lo; i < sortedCuts.length && sortedCuts[i]! < end; i += 1) {
      out.push([s, sortedCuts[i]!]);
      s = sortedCuts[i]!;
    }
    out.push([s, end]);
    return out;
  };
  const span = (lines: readonly number[]): string => (lines.length === 1 ? `line ${lines[0]}` : `lines ${lines[0]}-${lines[lines.length - 1]}`);

  // What the trace unmaps without having mapped it was mapped before the recording began.
  const beforeRanges = before.within(0n, 1n << 64n);
  for (const [s, e] of beforeRanges) {
    for (const [ps, pe] of pieces(s, e)) mapDma(ps, pe, [], `mapped before the trace began: the unmap at line ${beforeLines.get(s) ?? '?'} is its first event`);
  }
  for (const it of items) {
    if (it.kind === 'maprun') {
      for (const [s, e] of pieces(it.start, it.end)) {
        mapDma(s, e, it.lines, `ftrace ${span(it.lines)}: ${it.lines.length} map event(s), pid ${it.pid}; this MAP_DMA is synthesised to explain them`);
      }
    } else if (it.kind === 'unmaprun') {
      observations.push({ kind: 'unmap', seq: seqOfNext(), lines: it.lines, iova: it.start, end: it.end, unmapped: it.unmapped, leftInTrace: it.leftInTrace });
      records.push({
        op: 'ioctl',
        pid,
        fd: CONTAINER_FD,
        cmd: 'VFIO_IOMMU_UNMAP_DMA',
        arg: { flags: [], iova: hex(it.start), size: hex(it.end - it.start) },
        expect: { ret: 0, out: { size: hex(it.unmapped) } },
        comment: `ftrace ${span(it.lines)}: ${it.lines.length} unmap event(s), pid ${it.pid}, unmapped_size ${hex(it.unmapped)} in all; this UNMAP_DMA is synthesised`,
      });
    } else {
      const e = it.ev;
      observations.push({ kind: 'fault', seq: seqOfNext(), line: e.line, device: e.device, iova: e.iova, write: (e.flags & 1) !== 0, unmappedAt: it.unmappedAt });
      records.push({ op: 'device.dma', device: e.device, iova: hex(e.iova), length: '0x1', write: (e.flags & 1) !== 0, expect: { dma: 'fault' }, comment: `ftrace line ${e.line}: io_page_fault (${e.driver === '' ? 'no driver' : e.driver}, flags ${hex(BigInt(e.flags))})` });
    }
  }

  const header = { format: 'iommu-model/1', scheme: 'upstream', description: `imported from the ftrace ${file} by iommu-model import ftrace: map and unmap runs as MAP_DMA and UNMAP_DMA, io_page_fault as device.dma` };
  return { header, records, observations, findings, counts };
}

/** The log's text: the header and the records, one JSON object per line. */
export function logText(log: ImportedLog): string {
  return `${[log.header, ...log.records].map((r) => JSON.stringify(r)).join('\n')}\n`;
}
