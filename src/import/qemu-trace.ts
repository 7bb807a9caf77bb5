/**
 * `import qemu-trace`: QEMU's vfio trace events (hw/vfio/trace-events) as an iommu-model log
 * (docs/log-format.md), so that replaying it shows where the traced system did what the kernel
 * would not (docs/importers.md). Pure: the trace's lines in, the log's records out.
 *
 * Two passes: the first reads every line (devices, groups and BARs are known before the
 * prologue is written); the second writes the prologue the trace lacks, then one or more records
 * per mapped event. What QEMU does between the events is cited at each mapping.
 */
import { ERRNO_NUMBERS } from '../vocab/errno.js';
import { InputError, fail, showValue, type Where } from '../vocab/errors.js';
import type { Header, JsonValue } from '../vocab/records.js';
import { dmaError, FORMATS, isVfioEvent, parseArgs, traceLine, type DmaError, type MappedEvent } from './qemu-events.js';
import { Backings, type Bar } from './qemu-world.js';

export type Rec = { [k: string]: JsonValue };

export interface ImportResult {
  readonly header: Header;
  readonly records: Rec[];
  /** Events (and other lines) not imported, by event name, with their counts. */
  readonly skipped: Map<string, number>;
  /** What the importer assumed, one line each; each is also a record's `comment`. */
  readonly assumptions: string[];
  /** How many trace lines became records. */
  readonly imported: number;
}

type Event = { readonly line: number; readonly event: MappedEvent; readonly f: Record<string, string> } | { readonly line: number; readonly event: 'error'; readonly e: DmaError };

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO_NUMBERS).map(([name, n]) => [n, name]));
const NOT_TRACE = '(lines that are no trace event)';
const hexs = (v: bigint): string => `0x${v.toString(16)}`;
const big = (digits: string): bigint => BigInt(`0x${digits}`);
/** RLIM_INFINITY on 64-bit Linux. */
const RLIM_INFINITY = (1n << 64n) - 1n;

function count(m: Map<string, number>, name: string): void {
  m.set(name, (m.get(name) ?? 0) + 1);
}

/** Reads the trace: the mapped events in order, the skipped counts, the pid of the prefixes. */
function scan(file: string, lines: readonly string[]): { events: Event[]; skipped: Map<string, number>; pid: number | null } {
  const events: Event[] = [];
  const skipped = new Map<string, number>();
  const skip = (name: string): void => count(skipped, name);
  let pid: number | null = null;
  let vfio = 0;
  lines.forEach((raw, i) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.trim() === '') return;
    const where: Where = { file, line: i + 1 };
    const tl = traceLine(text);
    if (tl === null) {
      const e = dmaError(text);
      if (e === null) skip(NOT_TRACE);
      else events.push({ line: i + 1, event: 'error', e });
      return;
    }
    if (isVfioEvent(tl.event)) vfio += 1;
    pid ??= tl.pid;
    if (Object.hasOwn(FORMATS, tl.event)) {
      const event = tl.event as MappedEvent;
      events.push({ line: i + 1, event, f: parseArgs(event, tl.args, where) });
    } else skip(tl.event);
  });
  if (vfio === 0) {
    const looksJson = lines.some((l) => l.trimStart().startsWith('{'));
    throw new InputError(file, null, null, `not a QEMU trace: no line holds a vfio trace event (hw/vfio/trace-events), such as 'vfio_listener_region_add_ram region_add [ram] 0x0 - 0x9ffff [0x7f0000000000]'${looksJson ? '; this looks like JSON (an iommu-model log is replayed, not imported)' : ''}`);
  }
  return { events, skipped, pid };
}

export function importQemuTrace(file: string, lines: readonly string[]): ImportResult {
  const { events, skipped, pid: tracedPid } = scan(file, lines);
  const records: Rec[] = [];
  const assumptions = new Map<string, number[]>();
  const assume = (key: string, line: number): string => {
    const at = assumptions.get(key);
    if (at === undefined) assumptions.set(key, [line]);
    else at.push(line);
    return `assumed: ${key}`;
  };
  const world = new Backings(file, events);
  const pid = tracedPid ?? 1;
  const push = (r: Rec): Rec => {
    records.push(r);
    return r;
  };
  // ---- the prologue -------------------------------------------------------------------------
  push({ op: 'host.iommu', comment: assume("the host IOMMU is the model's default (4K, 2M and 1G pages, a 48-bit aperture, the x86 MSI window): a QEMU trace does not show it", 0) });
  for (const d of world.devices) {
    const bars = d.bars.map((b) => ({ index: b.index, phys: hexs(b.phys), size: hexs(b.size) }));
    const notes = [...d.notes.map((n) => assume(n, 0))];
    push({ op: 'host.device', device: d.bdf, group: d.group, ...(bars.length > 0 ? { bars } : {}), comment: notes.length > 0 ? notes.join('; ') : `device ${d.bdf} (trace line ${d.line})` });
  }
  push({
    op: 'process.spawn',
    pid,
    rlimit_memlock: hexs(RLIM_INFINITY),
    comment: `${tracedPid === null ? `${assume('QEMU runs as pid 1: no line prefix shows its pid', 0)}; ` : `QEMU, pid ${pid} as the trace's prefixes show; `}${assume('RLIMIT_MEMLOCK is unlimited: libvirt raises it for a guest with VFIO devices (or QEMU has CAP_IPC_LOCK); the trace does not show it', 0)}`,
  });
  // (not re-read for the importer: QEMU's order as remembered, stated as an assumption)
  // hw/vfio/container.c vfio_get_group opens the group, vfio_connect_container opens
  // /dev/vfio/vfio, VFIO_GROUP_SET_CONTAINER, then VFIO_SET_IOMMU (type1v2 first, as
  // vfio_get_iommu_type prefers it); vfio_get_device: VFIO_GROUP_GET_DEVICE_FD.
  const setup = assume('QEMU opened every group and device at start-up, in the order the trace first names them, with a type1v2 container (hw/vfio/container.c vfio_get_group, vfio_connect_container, vfio_get_device)', 0);
  let nextFd = 3;
  let container = 0;
  const groupFd = new Map<number, number>();
  for (const d of world.devices) {
    if (groupFd.has(d.group)) continue;
    const g = nextFd++;
    groupFd.set(d.group, g);
    push({ op: 'open', pid, path: `/dev/vfio/${d.group}`, expect: { ret: g }, comment: setup });
    if (container === 0) {
      container = nextFd++;
      push({ op: 'open', pid, path: '/dev/vfio/vfio', expect: { ret: container }, comment: setup });
    }
    push({ op: 'ioctl', pid, fd: g, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: container }, expect: { ret: 0 }, comment: setup });
    if (groupFd.size === 1) push({ op: 'ioctl', pid, fd: container, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU', expect: { ret: 0 }, comment: setup });
  }
  const deviceFd = new Map<string, number>();
  for (const d of world.devices) {
    const fd = nextFd++;
    deviceFd.set(d.bdf, fd);
    push({ op: 'ioctl', pid, fd: groupFd.get(d.group)!, cmd: 'VFIO_GROUP_GET_DEVICE_FD', arg: { name: d.bdf }, expect: { ret: fd }, comment: setup });
  }
  // ---- the events ---------------------------------------------------------------------------
  const backings = world;
  const memoryOn = new Set<string>();
  const pendingMap = new Map<string, Rec>();
  const pendingUnmap = new Map<string, Rec>();
  const dropped = new Set<Rec>();
  let lastMap: { rec: Rec; iova: bigint } | null = null;
  let imported = 0;
  const where = (line: number): Where => ({ file, line });
  for (const ev of events) {
    const line = ev.line;
    const note = (what: string): string => `trace line ${line}: ${what}`;
    if (ev.event === 'error') {
      // The error_report that follows the failed ioctl: its errno goes on that record's expect.
      const e = ev.e;
      const key = `${e.iova}:${e.size}`;
      const rec = (e.kind === 'map' ? pendingMap : pendingUnmap).get(key);
      const name = ERRNO_NAMES.get(-e.ret);
      if (rec === undefined || e.ret >= 0) {
        count(skipped, `(${e.kind === 'map' ? 'vfio_dma_map' : 'vfio_dma_unmap'} errors with no region_${e.kind === 'map' ? 'add' : 'del'} of that range before them)`);
        continue;
      }
      (e.kind === 'map' ? pendingMap : pendingUnmap).delete(key);
      rec['comment'] = `${String(rec['comment'])}; line ${line}: the call returned ${e.ret}`;
      if (name === undefined) {
        delete rec['expect'];
        rec['comment'] = `${String(rec['comment'])} (${assume('an errno the model never returns is left out of expect', line)})`;
      } else rec['expect'] = { errno: name };
      imported += 1;
      continue;
    }
    const f = ev.f;
    imported += 1;
    switch (ev.event) {
      case 'vfio_listener_region_add_ram': {
        // hw/vfio/listener.c vfio_container_region_add (common.c vfio_listener_region_add before
        // QEMU 10): trace_vfio_listener_region_add_ram(iova, end, vaddr), then
        // vfio_container_dma_map(iova, end + 1 - iova, vaddr, readonly) -> container.c
        // vfio_legacy_dma_map: VFIO_IOMMU_MAP_DMA {READ | (readonly ? 0 : WRITE), vaddr, iova, size}.
        const iova = big(f['iova_start']!);
        const end = big(f['iova_end']!);
        if (end < iova) fail(where(line), 'vfio_listener_region_add_ram.iova_end', `${showValue(`0x${f['iova_end']!}`)} is below iova_start 0x${f['iova_start']!}`);
        if (f['vaddr'] === '(nil)') fail(where(line), 'vfio_listener_region_add_ram.vaddr', 'a RAM section at (nil): QEMU maps no section without a host address');
        const vaddr = BigInt(f['vaddr']!);
        const size = end - iova + 1n;
        for (const m of backings.cover(vaddr, size)) {
          if (m.kind === 'bar') {
            const fd = deviceFd.get(m.bar.device)!;
            if (!memoryOn.has(m.bar.device)) {
              memoryOn.add(m.bar.device);
              push({ op: 'pci.command', pid, fd, memory: true, comment: note(assume('the guest had enabled memory decode before it used a BAR (no PCI_COMMAND write to it precedes the BAR in the trace)', line)) });
            }
            push({ op: 'mmap', pid, fd, offset: hexs((BigInt(m.bar.index) << 40n) + m.bar.offset), addr: hexs(m.start), length: hexs(m.length), expect: { ret: hexs(m.start) }, comment: note(`vfio_region_mmap (line ${m.bar.line}): ${m.bar.name}; ${assume('a section whose host address no earlier mapping holds is the next BAR mmap not yet placed that is large enough: vfio_region_mmap does not print where QEMU mapped the BAR', line)}`) });
          } else push({ op: 'mmap', pid, addr: hexs(m.start), length: hexs(m.length), expect: { ret: hexs(m.start) }, comment: note(`the RAM behind vfio_listener_region_add_ram [${hexs(vaddr)}]; ${assume('RAM a section points at is anonymous memory QEMU mapped before the section was added (QEMU allocates guest RAM with mmap; the trace does not show it)', line)}`) });
        }
        const rec = push({ op: 'ioctl', pid, fd: container, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hexs(vaddr), iova: hexs(iova), size: hexs(size) }, expect: { ret: 0 }, comment: note(`vfio_listener_region_add_ram ${hexs(iova)} - ${hexs(end)}; ${assume('a section is writable (a read-only one, ROM, maps without WRITE: the trace does not say which) and its map succeeded unless an error_report line follows it (QEMU reports every failure on stderr)', line)}`) });
        pendingMap.set(`${iova}:${size}`, rec);
        lastMap = { rec, iova };
        continue;
      }
      case 'vfio_listener_region_add_no_dma_map': {
        // listener.c vfio_container_region_add: a RAM device section not aligned to the IOMMU's
        // page size is traced after region_add_ram and never mapped: the MAP_DMA goes.
        const iova = big(f['iova']!);
        const size = big(f['size']!);
        if (lastMap !== null && lastMap.iova >= iova && lastMap.iova < iova + size) {
          dropped.add(lastMap.rec);
          lastMap = null;
        } else imported -= 1;
        continue;
      }
      case 'vfio_listener_region_del': {
        // listener.c vfio_listener_region_del: trace_vfio_listener_region_del(iova, end), then
        // vfio_container_dma_unmap(iova, end + 1 - iova); a section of all 2^64 bytes is
        // unmap_all (container.c vfio_legacy_dma_unmap_all: VFIO_DMA_UNMAP_FLAG_ALL).
        const iova = big(f['start']!);
        const end = big(f['end']!);
        if (end < iova) fail(where(line), 'vfio_listener_region_del.end', `${showValue(`0x${f['end']!}`)} is below start 0x${f['start']!}`);
        const all = iova === 0n && end === RLIM_INFINITY;
        const size = all ? 0n : end - iova + 1n;
        const rec = push({ op: 'ioctl', pid, fd: container, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: all ? ['ALL'] : [], iova: hexs(iova), size: hexs(size) }, expect: { ret: 0 }, comment: note(`vfio_listener_region_del ${hexs(iova)} - ${hexs(end)}${all ? ' (all of the address space: VFIO_DMA_UNMAP_FLAG_ALL)' : ''}`) });
        pendingUnmap.set(`${iova}:${size}`, rec);
        lastMap = null;
        continue;
      }
      case 'vfio_region_mmap':
        // region.c vfio_region_mmap: mmap(region fd_offset + mmaps[i].offset), then the trace;
        // the log maps it at the first section that shows its host address (cover).
        if (!backings.barMapped(f['name']!, big(f['offset']!), big(f['end']!), line)) {
          imported -= 1;
          count(skipped, 'vfio_region_mmap (not a BAR of a device the trace names)');
        }
        continue;
      case 'vfio_region_unmap': {
        // region.c vfio_subregion_unmap: the trace, then munmap(mmaps[i].mmap, size).
        const placed = backings.barUnmapped(f['name']!);
        if (placed === null) imported -= 1;
        else push({ op: 'munmap', pid, addr: hexs(placed.start), length: hexs(placed.length), comment: note(`vfio_region_unmap ${f['name']!}`) });
        continue;
      }
      case 'vfio_pci_write_config': {
        // pci.c vfio_pci_write_config passes PCI_COMMAND's memory bit (0x2) through to the
        // device's config region (the kernel's vfio_basic_config_write).
        const bdf = backings.bdf(f['name']!);
        if (big(f['addr']!) !== 4n || bdf === null) {
          imported -= 1;
          count(skipped, 'vfio_pci_write_config (not PCI_COMMAND)');
          continue;
        }
        memoryOn.add(bdf);
        push({ op: 'pci.command', pid, fd: deviceFd.get(bdf)!, memory: (big(f['val']!) & 2n) !== 0n, comment: note(`vfio_pci_write_config PCI_COMMAND = 0x${f['val']!}`) });
        continue;
      }
      default:
        // vfio_realize, vfio_attach_device, vfio_get_device, vfio_region_setup: read by
        // Backings for the prologue (host.device, its group and BARs).
    }
  }
  const header: Header = { format: 'iommu-model/1', scheme: 'upstream', description: `imported from the QEMU trace ${file} (iommu-model import qemu-trace)` };
  const summary = [...assumptions].map(([text, at]) => {
    const shown = at.filter((l) => l > 0);
    return shown.length === 0 ? text : `${text} (trace line ${shown.slice(0, 3).join(', ')}${shown.length > 3 ? ` and ${shown.length - 3} more` : ''})`;
  });
  return { header, records: records.filter((r) => !dropped.has(r)), skipped, assumptions: summary, imported };
}

export type { Bar };
