/**
 * QEMU trace lines as events: the three line prefixes QEMU's trace backends write, the formats of
 * the vfio trace events the importer maps (hw/vfio/trace-events, quoted per event), and the
 * error_report lines that carry a DMA map's result. Pure: a line in, an event (or null) out.
 *
 * Prefixes (trace/control.c and the generated trace/trace-*.h of each backend):
 * - none, the log backend without timestamps: `vfio_x <format>`;
 * - the log backend when `message_with_timestamp` is set (`-msg timestamp=on`):
 *   `<pid>@<seconds>.<usec>:vfio_x <format>` (the generated code's `"%d@%zu.%06zu:"` prefix, as
 *   seen in a build of trace/trace-hw_vfio.h; which QEMU releases set it by default is not checked);
 * - the syslog backend as syslog or journald writes it:
 *   `Mar  3 10:00:00 host qemu[1234]: vfio_x <format>` (the month as the locale spells it, an
 *   ISO-8601 timestamp also accepted) or `qemu-system-x86_64[1234]:`.
 * Every backend writes the event name, one space, then the event's format string.
 */
import { fail, showValue, type Where } from '../vocab/errors.js';

/** One part of an event's format: literal text, or a field as printf prints it. */
type Part = string | { readonly name: string; readonly kind: 'hex' | 'dec' | 'ptr' | 'str' };

/** `0x%"PRIx64` and `0x%lx` print hex digits after a literal `0x`; `%d`/`%u` decimal; `%p` glibc's pointer. */
const PATTERN = { hex: '[0-9a-fA-F]{1,16}', dec: '-?[0-9]+', ptr: '0x[0-9a-fA-F]{1,16}|\\(nil\\)', str: '.*?' } as const;

const hex = (name: string): Part => ({ name, kind: 'hex' });
const dec = (name: string): Part => ({ name, kind: 'dec' });
const ptr = (name: string): Part => ({ name, kind: 'ptr' });
const str = (name: string): Part => ({ name, kind: 'str' });

/**
 * The events the importer maps, each with its format as hw/vfio/trace-events writes it (the same
 * text from QEMU 4.0 (2019) to 10.x unless said: the events were renamed, not reformatted).
 */
export const FORMATS = {
  // vfio_listener_region_add_ram(uint64_t iova_start, uint64_t iova_end, void *vaddr) "region_add [ram] 0x%"PRIx64" - 0x%"PRIx64" [%p]"
  vfio_listener_region_add_ram: ['region_add [ram] 0x', hex('iova_start'), ' - 0x', hex('iova_end'), ' [', ptr('vaddr'), ']'],
  // vfio_listener_region_del(uint64_t start, uint64_t end) "region_del 0x%"PRIx64" - 0x%"PRIx64
  vfio_listener_region_del: ['region_del 0x', hex('start'), ' - 0x', hex('end')],
  // vfio_listener_region_add_no_dma_map(const char *name, uint64_t iova, uint64_t size, uint64_t page_size)
  //   "Region \"%s\" 0x%"PRIx64" size=0x%"PRIx64" is not aligned to 0x%"PRIx64" and cannot be mapped for DMA"
  vfio_listener_region_add_no_dma_map: ['Region "', str('name'), '" 0x', hex('iova'), ' size=0x', hex('size'), ' is not aligned to 0x', hex('page_size'), ' and cannot be mapped for DMA'],
  // vfio_region_mmap(const char *name, unsigned long offset, unsigned long end) "Region %s [0x%lx - 0x%lx]"
  vfio_region_mmap: ['Region ', str('name'), ' [0x', hex('offset'), ' - 0x', hex('end'), ']'],
  // vfio_region_unmap(const char *name, unsigned long offset, unsigned long end) "Region %s unmap [0x%lx - 0x%lx]"
  vfio_region_unmap: ['Region ', str('name'), ' unmap [0x', hex('offset'), ' - 0x', hex('end'), ']'],
  // vfio_region_setup(const char *dev, int index, const char *name, unsigned long flags, unsigned long offset, unsigned long size)
  //   "Device %s, region %d \"%s\", flags: 0x%lx, offset: 0x%lx, size: 0x%lx"
  vfio_region_setup: ['Device ', str('dev'), ', region ', dec('index'), ' "', str('name'), '", flags: 0x', hex('flags'), ', offset: 0x', hex('offset'), ', size: 0x', hex('size')],
  // vfio_realize(const char *name, int group_id) " (%s) group %d" (pci.c, to QEMU 8.1)
  vfio_realize: [' (', str('name'), ') group ', dec('group_id')],
  // vfio_attach_device(const char *name, int group_id) " (%s) group %d" (container.c, QEMU 8.2 on)
  vfio_attach_device: [' (', str('name'), ') group ', dec('group_id')],
  // vfio_get_device(const char * name, unsigned int flags, unsigned int num_regions, unsigned int num_irqs)
  //   "Device %s flags: %u, regions: %u, irqs: %u"
  vfio_get_device: ['Device ', str('name'), ' flags: ', dec('flags'), ', regions: ', dec('num_regions'), ', irqs: ', dec('num_irqs')],
  // vfio_pci_write_config(const char *name, int addr, int val, int len) " (%s, @0x%x, 0x%x, len=0x%x)"
  vfio_pci_write_config: [' (', str('name'), ', @0x', hex('addr'), ', 0x', hex('val'), ', len=0x', hex('len'), ')'],
} as const satisfies Record<string, readonly Part[]>;

export type MappedEvent = keyof typeof FORMATS;

/** A trace line: its prefix's pid (null for none), the event name and its text after the name. */
export interface TraceLine {
  readonly pid: number | null;
  readonly event: string;
  readonly args: string;
}

/** Log backend: `1234@1700000000.123456:vfio_x ...` */
const LOG_PREFIX = /^([0-9]+)@[0-9]+\.[0-9]+:/;
/** syslog: `Mar  3 10:00:00 host prog[1234]: ` or `2024-01-13T18:17:24+03:00 host prog[1234]: ` */
const SYSLOG_PREFIX = /^(?:\S+ +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}T\S+) \S+ [^\s[\]]+\[([0-9]+)\]: /;
/** A trace event's name: the trace-events identifier, then a space or the end of the line. */
const EVENT = /^([a-z][a-z0-9_]*)(?: |$)/;

/** The trace event of a line, whatever its prefix; null when the line holds no trace event. */
export function traceLine(line: string): TraceLine | null {
  let rest = line;
  let pid: number | null = null;
  const log = LOG_PREFIX.exec(rest);
  const sys = log === null ? SYSLOG_PREFIX.exec(rest) : null;
  if (log !== null) {
    pid = Number(log[1]);
    rest = rest.slice(log[0].length);
  } else if (sys !== null) {
    pid = Number(sys[1]);
    rest = rest.slice(sys[0].length);
  }
  const m = EVENT.exec(rest);
  if (m === null || !m[1]!.includes('_')) return null;
  return { pid, event: m[1]!, args: rest.slice(m[0].length) };
}

/** Whether an event name is one of QEMU's vfio trace events (hw/vfio, hw/vfio-user, iommufd). */
export function isVfioEvent(event: string): boolean {
  return event.startsWith('vfio_') || event.startsWith('iommufd_');
}

function source(parts: readonly Part[]): string {
  return parts.map((p) => (typeof p === 'string' ? p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : `(?<${p.name}>${PATTERN[p.kind]})`)).join('');
}

const COMPILED = new Map<string, RegExp>(Object.entries(FORMATS).map(([name, parts]) => [name, new RegExp(`^${source(parts)}$`)]));

/**
 * The fields of a mapped event's text, as strings. A text that does not match the format is bad
 * input naming the first field that does not match (`vfio_listener_region_add_ram.vaddr`).
 */
export function parseArgs(event: MappedEvent, args: string, where: Where): Record<string, string> {
  const m = COMPILED.get(event)!.exec(args);
  if (m !== null) return { ...m.groups };
  const parts: readonly Part[] = FORMATS[event];
  // the longest prefix of the format that matches names the part after it as the culprit
  let k = parts.length - 1;
  while (k > 0 && !new RegExp(`^${source(parts.slice(0, k))}`).test(args)) k -= 1;
  // a literal that does not follow names the field after it; the closing literal, the field before
  const isField = (p: Part | undefined): p is Exclude<Part, string> => p !== undefined && typeof p !== 'string';
  const culprit = parts.slice(k).find(isField) ?? parts.slice(0, k).reverse().find(isField);
  const want = parts.map((p) => (typeof p === 'string' ? p : `<${p.name}>`)).join('');
  fail(where, `${event}.${culprit?.name ?? 'format'}`, `expected '${want}' (hw/vfio/trace-events), got ${showValue(args)}`);
}

/** A DMA map or unmap failure QEMU printed with error_report (not a trace event). */
export interface DmaError {
  readonly kind: 'map' | 'unmap';
  readonly iova: bigint;
  readonly size: bigint;
  readonly ret: number;
}

/*
 * hw/vfio/common.c vfio_listener_region_add (QEMU 2.x to 8.0):
 *   error_report("vfio_dma_map(%p, 0x%"HWADDR_PRIx", 0x%"HWADDR_PRIx", %p) = %d (%m)", ...)
 * (`%s` with strerror(-ret) from 8.1: %m printed an unrelated errno, so only the number counts);
 * hw/vfio/listener.c vfio_container_region_add (QEMU 10.x):
 *   error_setg(&err, "vfio_container_dma_map(%p, 0x%"HWADDR_PRIx", 0x%"HWADDR_PRIx", %p) = %d (%s)", ...)
 * and vfio_listener_region_del: "vfio_dma_unmap(%p, 0x%..., 0x%...) = %d (%m)" /
 * "vfio_container_dma_unmap(%p, 0x%..., 0x%...) = %d (%s)". error_report may be preceded by a
 * timestamp and the program name, `warning: `, or "Region %s: " (the realize error), so the
 * call is looked for anywhere in the line.
 */
const MAP_ERROR = /\b(?:vfio_dma_map|vfio_container_dma_map)\((?:0x[0-9a-f]+|\(nil\)), 0x([0-9a-f]{1,16}), 0x([0-9a-f]{1,16}), (?:0x[0-9a-f]+|\(nil\))\) = (-?[0-9]+)/;
const UNMAP_ERROR = /\b(?:vfio_dma_unmap|vfio_container_dma_unmap)\((?:0x[0-9a-f]+|\(nil\)), 0x([0-9a-f]{1,16}), 0x([0-9a-f]{1,16})\) = (-?[0-9]+)/;

export function dmaError(line: string): DmaError | null {
  const map = MAP_ERROR.exec(line);
  const m = map ?? UNMAP_ERROR.exec(line);
  if (m === null) return null;
  return { kind: map !== null ? 'map' : 'unmap', iova: BigInt(`0x${m[1]!}`), size: BigInt(`0x${m[2]!}`), ret: Number(m[3]) };
}
