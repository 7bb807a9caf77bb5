/**
 * What the qemu-trace importer knows of the traced host beyond single events: the devices (BDF,
 * group, BARs) the trace names, and QEMU's address space as far as the imported log has mapped
 * it (RAM backings and BAR mmaps), so that each mapping is made once and BAR mmaps, whose address
 * the trace does not print, are placed at the first section that uses them.
 */
import type { MappedEvent } from './qemu-events.js';

export interface Bar {
  readonly index: number;
  readonly phys: bigint;
  readonly size: bigint;
}

export interface TracedDevice {
  /** The name QEMU traces (vbasedev->name: the host BDF for vfio-pci, `VFIO user <socket>`, ...). */
  readonly name: string;
  readonly bdf: string;
  readonly group: number;
  readonly bars: Bar[];
  /** The first trace line that names it. */
  readonly line: number;
  /** What was assumed about it. */
  readonly notes: string[];
}

/** A BAR mmap QEMU made (vfio_region_mmap), placed in the log once a section shows its address. */
export interface BarMmap {
  readonly name: string;
  readonly device: string;
  readonly index: number;
  /** Its offset inside the region (region.c: mmaps[i].offset) and length. */
  readonly offset: bigint;
  readonly length: bigint;
  readonly line: number;
}

export type Mapping = { kind: 'anon'; start: bigint; length: bigint } | { kind: 'bar'; start: bigint; length: bigint; bar: BarMmap };

type Scanned = { readonly line: number; readonly event: MappedEvent | 'error'; readonly f?: Record<string, string> };

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
/** pci.c vfio_bars_register names a BAR's region "%s BAR %d"; region.c vfio_region_mmap its mmaps "%s mmaps[%d]". */
const BAR_REGION = /^(.*) BAR ([0-5]) mmaps\[([0-9]+)\]$/;
const PAGE = 0x1000n;
/** Where the importer puts BARs in host physical memory: the trace does not show it. */
const BAR_PHYS_BASE = 0x80_0000_0000n;

const pageDown = (v: bigint): bigint => v & ~(PAGE - 1n);
const pageUp = (v: bigint): bigint => (v + PAGE - 1n) & ~(PAGE - 1n);
const pow2Up = (v: bigint): bigint => {
  let p = 1n;
  while (p < v) p <<= 1n;
  return p;
};

export class Backings {
  readonly devices: TracedDevice[] = [];
  private readonly byName = new Map<string, TracedDevice>();
  /** Mapped host ranges [start, end), sorted, disjoint. */
  private readonly ranges: Array<{ start: bigint; end: bigint; bar?: string }> = [];
  private readonly unplaced: BarMmap[] = [];
  private readonly placed = new Map<string, { start: bigint; length: bigint }>();

  constructor(readonly file: string, events: readonly Scanned[]) {
    const groups = new Map<string, number>();
    const sizes = new Map<string, Map<number, bigint>>();
    const order: Array<{ name: string; line: number }> = [];
    const see = (name: string, line: number): void => {
      if (!order.some((o) => o.name === name)) order.push({ name, line });
    };
    const size = (name: string, index: number, s: bigint): void => {
      const m = sizes.get(name) ?? new Map<number, bigint>();
      sizes.set(name, m);
      if (s > (m.get(index) ?? 0n)) m.set(index, s);
    };
    for (const ev of events) {
      const f = ev.f ?? {};
      switch (ev.event) {
        case 'vfio_realize':
        case 'vfio_attach_device':
          see(f['name']!, ev.line);
          if (!groups.has(f['name']!)) groups.set(f['name']!, Number(f['group_id']));
          break;
        case 'vfio_get_device':
        case 'vfio_pci_write_config':
          see(f['name']!, ev.line);
          break;
        case 'vfio_region_setup': {
          see(f['dev']!, ev.line);
          const index = Number(f['index']);
          if (index >= 0 && index <= 5) size(f['dev']!, index, BigInt(`0x${f['size']!}`));
          break;
        }
        case 'vfio_region_mmap': {
          const m = BAR_REGION.exec(f['name']!);
          if (m === null) break;
          see(m[1]!, ev.line);
          size(m[1]!, Number(m[2]), BigInt(`0x${f['end']!}`) + 1n);
          break;
        }
        default:
      }
    }
    const usedGroups = new Set(groups.values());
    let nextGroup = 1;
    let nextBus = 1;
    const usedBdfs = new Set(order.map((o) => o.name).filter((n) => BDF.test(n)));
    let phys = BAR_PHYS_BASE;
    if (order.length === 0) order.push({ name: '0000:01:00.0', line: 0 });
    for (const { name, line } of order) {
      const notes: string[] = [];
      if (line === 0) notes.push('one device, 0000:01:00.0: no event names one (vfio_realize, vfio_attach_device, vfio_get_device, vfio_region_setup or vfio_region_mmap)');
      let bdf = name;
      if (!BDF.test(name)) {
        do bdf = `0000:${(nextBus++).toString(16).padStart(2, '0')}:00.0`;
        while (usedBdfs.has(bdf));
        usedBdfs.add(bdf);
        notes.push(`the device QEMU names ${JSON.stringify(name)} is ${bdf}: its name is not a PCI address`);
      }
      let group = groups.get(name);
      if (group === undefined) {
        while (usedGroups.has(nextGroup)) nextGroup += 1;
        group = nextGroup;
        usedGroups.add(group);
        notes.push(`${bdf} is alone in IOMMU group ${group}: no vfio_realize or vfio_attach_device line gives its group`);
      }
      const bars: Bar[] = [];
      for (const [index, s] of [...(sizes.get(name) ?? new Map<number, bigint>())].sort((a, b) => a[0] - b[0])) {
        const barSize = pow2Up(s);
        phys = (phys + barSize - 1n) & ~(barSize - 1n);
        bars.push({ index, phys, size: barSize });
        phys += barSize;
      }
      if (bars.length > 0) notes.push(`${bdf}'s BARs sit in host physical memory from 0x${BAR_PHYS_BASE.toString(16)} up, each aligned to its size (a size is vfio_region_setup's, or the end of its mmaps rounded up to a power of two): the trace does not show their addresses`);
      const d: TracedDevice = { name, bdf, group, bars, line, notes };
      this.devices.push(d);
      this.byName.set(name, d);
    }
  }

  /** The BDF of a device by its traced name. */
  bdf(name: string): string | null {
    return this.byName.get(name)?.bdf ?? null;
  }

  /** vfio_region_mmap: a BAR mmap now exists in QEMU; the log maps it where a section shows it. */
  barMapped(name: string, offset: bigint, end: bigint, line: number): boolean {
    const m = BAR_REGION.exec(name);
    const d = m === null ? undefined : this.byName.get(m[1]!);
    if (m === null || d === undefined || end < offset) return false;
    this.unplaced.push({ name, device: d.bdf, index: Number(m[2]), offset, length: pageUp(end + 1n - offset), line });
    return true;
  }

  /** vfio_region_unmap: the BAR mmap's range, when it was placed (then it is free again). */
  barUnmapped(name: string): { start: bigint; length: bigint } | null {
    const i = this.unplaced.findIndex((b) => b.name === name);
    if (i >= 0) this.unplaced.splice(i, 1);
    const p = this.placed.get(name);
    if (p === undefined) return null;
    this.placed.delete(name);
    const at = this.ranges.findIndex((r) => r.bar === name);
    if (at >= 0) this.ranges.splice(at, 1);
    return p;
  }

  /**
   * The mappings a section [vaddr, vaddr + size) needs: none where the log has mapped its host
   * range already; a BAR mmap not yet placed, when the whole range is unmapped and the BAR's
   * mmap is large enough and fits there; anonymous memory for the rest.
   */
  cover(vaddr: bigint, size: bigint): Mapping[] {
    const start = pageDown(vaddr);
    const end = pageUp(vaddr + size);
    const gaps = this.gaps(start, end);
    if (gaps.length === 1 && gaps[0]!.start === start && gaps[0]!.end === end) {
      const i = this.unplaced.findIndex((b) => b.length >= end - start && this.gaps(start, start + b.length).length === 1 && this.gaps(start, start + b.length)[0]!.end === start + b.length);
      if (i >= 0) {
        const bar = this.unplaced.splice(i, 1)[0]!;
        this.insert(start, start + bar.length, bar.name);
        this.placed.set(bar.name, { start, length: bar.length });
        return [{ kind: 'bar', start, length: bar.length, bar }];
      }
    }
    for (const g of gaps) this.insert(g.start, g.end);
    return gaps.map((g) => ({ kind: 'anon', start: g.start, length: g.end - g.start }));
  }

  /** The unmapped parts of [start, end). */
  private gaps(start: bigint, end: bigint): Array<{ start: bigint; end: bigint }> {
    const out: Array<{ start: bigint; end: bigint }> = [];
    let at = start;
    for (let i = this.first(start); i < this.ranges.length && this.ranges[i]!.start < end; i++) {
      const r = this.ranges[i]!;
      if (r.start > at) out.push({ start: at, end: r.start });
      if (r.end > at) at = r.end;
    }
    if (at < end) out.push({ start: at, end });
    return out;
  }

  /** The index of the first range that ends after `v`. */
  private first(v: bigint): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid]!.end <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(start: bigint, end: bigint, bar?: string): void {
    this.ranges.splice(this.first(start), 0, bar === undefined ? { start, end } : { start, end, bar });
  }
}
