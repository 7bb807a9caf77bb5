/**
 * ftrace text in, trace events out: the lines `cat /sys/kernel/tracing/trace` prints and the lines
 * `trace-cmd report` prints, for the events the ftrace importer uses (docs/importers.md, ftrace).
 * Pure: text in, data out; bad input is an InputError naming the file, line and event.
 *
 * A line is the context trace_print_context (kernel/trace/trace_output.c) prints, then the event:
 *
 *   `  qemu-system-x86-1234  [003] d..1. 1234.567890: map: IOMMU: iova=0x... - 0x... paddr=...`
 *   `qemu-1234 [003] 1234.567890: map: IOMMU: ...`            (trace-cmd report; no flags column)
 *   `  <idle>-0  (-------) [000] ...` (the `(tgid)` column of `-o record-tgid`) is accepted too.
 *
 * The events and the format each is parsed against (the kernel's TP_printk, or for the syscalls
 * the printer of kernel/trace/trace_syscalls.c):
 *
 * - include/trace/events/iommu.h `map`: "IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu"
 *   (emitted by drivers/iommu/iommu.c iommu_map_nosync once per successful call: the whole range)
 * - `unmap`: "IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu"
 *   (drivers/iommu/iommu.c __iommu_unmap, after the walk: `unmapped` < `size` when it met a hole)
 * - `attach_device_to_domain`, `detach_device_from_domain`: "IOMMU: device=%s"
 * - `add_device_to_group`, `remove_device_from_group`: "IOMMU: groupID=%d device=%s"
 * - `io_page_fault`: "IOMMU:%s %s iova=0x%016llx flags=0x%04x" (driver, device; from
 *   drivers/iommu/iommu.c report_iommu_fault); flags bit 0 is IOMMU_FAULT_WRITE (include/linux/iommu.h)
 * - syscalls `sys_enter_ioctl` / `sys_exit_ioctl`: the trace file prints them with
 *   print_syscall_enter, "sys_ioctl(fd: %lx, cmd: %lx, arg: %lx)" (no 0x), and print_syscall_exit,
 *   "sys_ioctl -> 0x%lx"; trace-cmd prints the events' print_fmt, "sys_enter_ioctl: fd: 0x%08lx,
 *   cmd: 0x%08lx, arg: 0x%08lx" (__set_enter_print_fmt) and "sys_exit_ioctl: 0x%lx".
 *
 * Other events are skipped (counted by name); so are header lines (`# tracer: nop`, `cpus=4`,
 * `CPU 0 is empty`) and any line that is not an event line. Not parsed (not checked against the
 * kernel here): drivers/iommu/intel/trace.h (`qi_submit`, `prq_report`, `page_response`) and
 * the vfio_pci events of drivers/vfio/pci/trace.h (NVLink2 mmap faults, POWER only).
 */
import { InputError, showValue } from '../vocab/errors.js';
import { u64Text } from '../log/u64.js';
import { DEFAULT_MAX_LINE, formatSize } from '../log/lines.js';

/** The context of an event line: who and when. */
export interface TraceContext {
  /** The line in the trace file, from 1. */
  readonly line: number;
  readonly comm: string;
  /** The pid column: the thread's id. */
  readonly pid: number;
  readonly cpu: number;
  /** The timestamp as printed (seconds), kept as text: the model has no clock. */
  readonly time: string;
}

export type TraceEvent = TraceContext &
  (
    | { readonly kind: 'map'; readonly iova: bigint; readonly size: bigint; readonly paddr: bigint }
    | { readonly kind: 'unmap'; readonly iova: bigint; readonly size: bigint; readonly unmapped: bigint }
    | { readonly kind: 'attach' | 'detach'; readonly device: string }
    | { readonly kind: 'group_add' | 'group_remove'; readonly group: number; readonly device: string }
    | { readonly kind: 'fault'; readonly driver: string; readonly device: string; readonly iova: bigint; readonly flags: number }
    | { readonly kind: 'ioctl_enter'; readonly fd: bigint; readonly cmd: bigint; readonly arg: bigint }
    | { readonly kind: 'ioctl_exit'; readonly ret: bigint }
  );

export type TraceEventKind = TraceEvent['kind'];

export interface ParsedTrace {
  readonly events: TraceEvent[];
  /** Event lines of events the importer does not use, by event name. */
  readonly skippedEvents: ReadonlyMap<string, number>;
  /** Lines that are not event lines (headers, comments, blank lines). */
  readonly otherLines: number;
}

/**
 * The context: comm (may hold spaces and dashes), `-pid`, an optional `(tgid)` column, `[cpu]`,
 * optional latency flags (`d..1.`, `....`), the timestamp and a colon.
 */
const CONTEXT = /^\s*(.+?)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([^\s\d][^\s]{2,5})\s+)?(\d+\.\d+):\s+(.*)$/;

const HEX16 = '0x([0-9a-fA-F]+)';
const FORMATS = {
  map: new RegExp(`^IOMMU: iova=${HEX16} - ${HEX16} paddr=${HEX16} size=(\\d+)$`),
  unmap: new RegExp(`^IOMMU: iova=${HEX16} - ${HEX16} size=(\\d+) unmapped_size=(\\d+)$`),
  device: /^IOMMU: device=(\S+)$/,
  group: /^IOMMU: groupID=(-?\d+) device=(\S+)$/,
  fault: new RegExp(`^IOMMU:(\\S*) (\\S+) iova=${HEX16} flags=0x([0-9a-fA-F]+)$`),
} as const;

/** The printed format of each event, for the message when a line does not match it. */
const SHAPES: Record<string, string> = {
  map: '"IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu"',
  unmap: '"IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu"',
  attach_device_to_domain: '"IOMMU: device=%s"',
  detach_device_from_domain: '"IOMMU: device=%s"',
  add_device_to_group: '"IOMMU: groupID=%d device=%s"',
  remove_device_from_group: '"IOMMU: groupID=%d device=%s"',
  io_page_fault: '"IOMMU:%s %s iova=0x%016llx flags=0x%04x"',
  sys_enter_ioctl: '"fd: 0x%08lx, cmd: 0x%08lx, arg: 0x%08lx" or "sys_ioctl(fd: %lx, cmd: %lx, arg: %lx)"',
  sys_exit_ioctl: '"0x%lx" or "sys_ioctl -> 0x%lx"',
};

const UTF8 = new TextEncoder();

/** Parses a whole trace. `file` names it in errors; a line longer than `maxLine` bytes is bad input. */
export function parseFtrace(text: string, file: string, maxLine: number = DEFAULT_MAX_LINE): ParsedTrace {
  const events: TraceEvent[] = [];
  const skippedEvents = new Map<string, number>();
  let otherLines = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo += 1;
    const raw = text.slice(start, end);
    start = end + 1;
    if (end === text.length && raw === '') break;
    if (raw.length * 3 > maxLine && UTF8.encode(raw).length > maxLine) throw new InputError(file, lineNo, null, `line is longer than ${formatSize(maxLine)} (--max-line)`);
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const ev = parseLine(line, lineNo, file);
    if (ev === null) otherLines += 1;
    else if (typeof ev === 'string') skippedEvents.set(ev, (skippedEvents.get(ev) ?? 0) + 1);
    else events.push(ev);
  }
  return { events, skippedEvents, otherLines };
}

/**
 * One line: its event, the name of an event the importer does not use, or null when the line is
 * not an event line.
 */
export function parseLine(line: string, lineNo: number, file: string): TraceEvent | string | null {
  if (line.startsWith('#')) return null;
  const m = CONTEXT.exec(line);
  if (m === null) return null;
  const ctx: TraceContext = { line: lineNo, comm: m[1]!.trim(), pid: Number(m[2]), cpu: Number(m[3]), time: m[5]! };
  const rest = m[6]!;
  // the trace file's syscall printers: "sys_ioctl(...)" and "sys_ioctl -> 0x0"
  const enter = /^(sys_\w+)\((.*)\)$/.exec(rest);
  if (enter !== null) return enter[1] === 'sys_ioctl' ? ioctlEnter(ctx, enter[2]!, false, file, 'sys_enter_ioctl') : `sys_enter_${enter[1]!.slice(4)}`;
  const exit = /^(sys_\w+) -> (0x[0-9a-fA-F]+)$/.exec(rest);
  if (exit !== null) return exit[1] === 'sys_ioctl' ? ioctlExit(ctx, exit[2]!, file) : `sys_exit_${exit[1]!.slice(4)}`;
  const ev = /^([A-Za-z_][\w]*):\s?(.*)$/.exec(rest);
  if (ev === null) return null;
  const [, name, body] = ev as unknown as [string, string, string];
  const bad = (detail?: string): never => {
    throw new InputError(file, lineNo, name, detail ?? `expected ${SHAPES[name]} (its TP_printk), got ${showValue(body)}`);
  };
  switch (name) {
    case 'map': {
      const f = FORMATS.map.exec(body) ?? bad();
      const iova = hexOf(f[1]!, bad);
      const end = hexOf(f[2]!, bad);
      const size = decOf(f[4]!, bad);
      if (iova + size !== end) bad(`iova + size is ${showValue(`0x${(iova + size).toString(16)}`)}, but the line prints ${showValue(`0x${f[2]}`)} as the end`);
      if (size === 0n) bad('size=0: iommu_map_nosync traces only a successful map of a non-empty range');
      return { ...ctx, kind: 'map', iova, size, paddr: hexOf(f[3]!, bad) };
    }
    case 'unmap': {
      const f = FORMATS.unmap.exec(body) ?? bad();
      const iova = hexOf(f[1]!, bad);
      const end = hexOf(f[2]!, bad);
      const size = decOf(f[3]!, bad);
      const unmapped = decOf(f[4]!, bad);
      if (iova + size !== end) bad(`iova + size is ${showValue(`0x${(iova + size).toString(16)}`)}, but the line prints ${showValue(`0x${f[2]}`)} as the end`);
      return { ...ctx, kind: 'unmap', iova, size, unmapped };
    }
    case 'attach_device_to_domain':
    case 'detach_device_from_domain': {
      const f = FORMATS.device.exec(body) ?? bad();
      return { ...ctx, kind: name === 'attach_device_to_domain' ? 'attach' : 'detach', device: f[1]! };
    }
    case 'add_device_to_group':
    case 'remove_device_from_group': {
      const f = FORMATS.group.exec(body) ?? bad();
      const group = Number(f[1]);
      if (!Number.isSafeInteger(group) || group < 0) bad(`groupID ${showValue(f[1])} is not a group number`);
      return { ...ctx, kind: name === 'add_device_to_group' ? 'group_add' : 'group_remove', group, device: f[2]! };
    }
    case 'io_page_fault': {
      const f = FORMATS.fault.exec(body) ?? bad();
      const flags = hexOf(f[4]!, bad);
      return { ...ctx, kind: 'fault', driver: f[1]!, device: f[2]!, iova: hexOf(f[3]!, bad), flags: Number(flags & 0xffffffffn) };
    }
    case 'sys_enter_ioctl':
      return ioctlEnter(ctx, body, true, file, name);
    case 'sys_exit_ioctl': {
      return ioctlExit(ctx, body.trim(), file);
    }
    default:
      return name;
  }
}

/** "fd: 3, cmd: 3b71, arg: 7ffd" (trace file: %lx) or "fd: 0x00000003, ..." (trace-cmd: 0x%08lx). */
function ioctlEnter(ctx: TraceContext, args: string, prefixed: boolean, file: string, name: string): TraceEvent {
  const m = (prefixed ? /^fd: 0x([0-9a-fA-F]+), cmd: 0x([0-9a-fA-F]+), arg: 0x([0-9a-fA-F]+)$/ : /^fd: ([0-9a-fA-F]+), cmd: ([0-9a-fA-F]+), arg: ([0-9a-fA-F]+)$/).exec(args);
  const bad = (): never => {
    throw new InputError(file, ctx.line, name, `expected ${SHAPES['sys_enter_ioctl']}, got ${showValue(args)}`);
  };
  if (m === null) return bad();
  return { ...ctx, kind: 'ioctl_enter', fd: hexOf(m[1]!, bad), cmd: hexOf(m[2]!, bad), arg: hexOf(m[3]!, bad) };
}

function ioctlExit(ctx: TraceContext, ret: string, file: string): TraceEvent {
  const bad = (): never => {
    throw new InputError(file, ctx.line, 'sys_exit_ioctl', `expected ${SHAPES['sys_exit_ioctl']}, got ${showValue(ret)}`);
  };
  const m = /^0x([0-9a-fA-F]+)$/.exec(ret) ?? bad();
  return { ...ctx, kind: 'ioctl_exit', ret: hexOf(m[1]!, bad) };
}

function hexOf(digits: string, bad: (detail?: string) => never): bigint {
  const v = u64Text(`0x${digits}`);
  if (typeof v !== 'bigint') return bad(`${showValue(`0x${digits}`)} is above 2^64-1`);
  return v;
}

function decOf(digits: string, bad: (detail?: string) => never): bigint {
  const v = u64Text(digits.replace(/^0+(?=\d)/, ''));
  if (typeof v !== 'bigint') return bad(`${showValue(digits)} is above 2^64-1`);
  return v;
}
