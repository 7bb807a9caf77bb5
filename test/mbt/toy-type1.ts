/**
 * A deliberately small VFIO type1 "implementation" for the model-based tests to find a flaw in:
 * processes with anonymous mmaps, /dev/vfio/vfio, groups, VFIO_GROUP_SET_CONTAINER,
 * VFIO_SET_IOMMU (type1v2), VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA, written from the uapi
 * (include/uapi/linux/vfio.h) and vfio_dma_do_map / vfio_dma_do_unmap's documented checks, not
 * from the model's code. It pins nothing and tracks no locked_vm; `supports` turns away every
 * log that needs more (another scheme or kernel release, argsz, VADDR, ALL, rlimits, BARs).
 *
 * `overlapErrno: 'EINVAL'` is the flaw: the kernel answers EEXIST when a MAP_DMA overlaps an
 * existing mapping (vfio_dma_do_map: `if (vfio_find_dma(iommu, iova, size)) ret = -EEXIST`).
 */
import type { Implementation, Observed, StimulusLike } from '../../src/run/gen/conformance.js';
import type { Header } from '../../src/vocab/records.js';

interface Group {
  open: boolean;
  container: Container | null;
}
interface Container {
  groups: Group[];
  type1: boolean;
  dmas: { iova: bigint; size: bigint }[];
}
type File = { kind: 'container'; c: Container } | { kind: 'group'; g: Group };
interface Proc {
  fds: Map<number, File | 'tty'>;
  vmas: { start: bigint; end: bigint }[];
}

/** A record's fields, as JSON. */
type Fields = Readonly<Record<string, unknown>>;

const U64_MAX = (1n << 64n) - 1n;
const PAGE = 0x1000n;
/** The x86 MSI window the host reserves, and the 48-bit aperture (the model's host defaults). */
const MSI = [0xfee00000n, 0xfeefffffn] as const;
const APERTURE_END = (1n << 48n) - 1n;

const OPS = new Set(['process.spawn', 'host.device', 'open', 'mmap', 'ioctl']);
const CMDS = new Set(['VFIO_GROUP_SET_CONTAINER', 'VFIO_SET_IOMMU', 'VFIO_IOMMU_MAP_DMA', 'VFIO_IOMMU_UNMAP_DMA']);

const u64 = (v: unknown): bigint => BigInt(v as string | number);
const err = (errno: string): Observed => ({ errno });
const wraps = (start: bigint, size: bigint): boolean => start + size - 1n > U64_MAX;

export class ToyType1 implements Implementation {
  private procs = new Map<number, Proc>();
  private groups = new Map<number, Group>();

  constructor(private readonly opts: { readonly overlapErrno: 'EEXIST' | 'EINVAL' }) {}

  supports(s: StimulusLike, h: Header): boolean {
    const r = s as Fields;
    if (h.scheme !== 'upstream' || h.kernel !== undefined || !OPS.has(String(r['op'])) || 'task' in r) return false;
    const arg = r['arg'] as { flags?: string[] } | string | undefined;
    switch (r['op']) {
      case 'process.spawn':
        return Object.keys(r).every((k) => k === 'op' || k === 'pid');
      case 'host.device':
        return Object.keys(r).every((k) => ['op', 'device', 'group', 'bars'].includes(k));
      case 'mmap':
        return r['addr'] !== undefined && r['fd'] === undefined && r['prot'] === undefined;
      case 'ioctl':
        if (!CMDS.has(String(r['cmd'])) || r['argsz'] !== undefined) return false;
        if (r['cmd'] === 'VFIO_SET_IOMMU') return arg !== 'VFIO_TYPE1_IOMMU';
        if (r['cmd'] === 'VFIO_IOMMU_MAP_DMA') return (typeof arg === 'object' ? arg.flags ?? [] : []).every((f) => f === 'READ' || f === 'WRITE');
        if (r['cmd'] === 'VFIO_IOMMU_UNMAP_DMA') return (typeof arg === 'object' ? arg.flags ?? [] : []).length === 0;
        return true;
    }
    return true;
  }

  start(): void {
    this.procs = new Map();
    this.groups = new Map();
  }

  apply(s: StimulusLike): Observed {
    const r = s as Fields;
    switch (r['op']) {
      case 'process.spawn':
        this.procs.set(Number(r['pid']), { fds: new Map([[0, 'tty'], [1, 'tty'], [2, 'tty']]), vmas: [] });
        return { ret: 0 };
      case 'host.device':
        if (!this.groups.has(Number(r['group']))) this.groups.set(Number(r['group']), { open: false, container: null });
        return { ret: 0 };
      case 'mmap': {
        const p = this.proc(r);
        const start = u64(r['addr']);
        const end = start + u64(r['length']);
        if (p.vmas.some((v) => v.start < end && start < v.end)) return err('EEXIST');
        p.vmas.push({ start, end });
        return { ret: `0x${start.toString(16)}` };
      }
      case 'open':
        return this.open(this.proc(r), String(r['path']));
      default:
        return this.ioctl(this.proc(r), r);
    }
  }

  private proc(r: Fields): Proc {
    const p = this.procs.get(Number(r['pid']));
    if (p === undefined) throw new Error(`no process ${String(r['pid'])}`);
    return p;
  }

  private install(p: Proc, f: File): Observed {
    let fd = 0;
    while (p.fds.has(fd)) fd += 1;
    p.fds.set(fd, f);
    return { ret: fd };
  }

  private open(p: Proc, path: string): Observed {
    if (path === '/dev/vfio/vfio') return this.install(p, { kind: 'container', c: { groups: [], type1: false, dmas: [] } });
    const g = this.groups.get(Number(/^\/dev\/vfio\/(\d+)$/.exec(path)?.[1]));
    if (g === undefined) return err('ENOENT');
    if (g.open) return err('EBUSY');
    g.open = true;
    return this.install(p, { kind: 'group', g });
  }

  private ioctl(p: Proc, r: Fields): Observed {
    const f = p.fds.get(Number(r['fd']));
    if (f === undefined) return err('EBADF');
    if (f === 'tty') return err('ENOTTY');
    const arg = r['arg'] as Record<string, unknown> & string;
    if (f.kind === 'group') {
      if (r['cmd'] !== 'VFIO_GROUP_SET_CONTAINER') return err('ENOTTY');
      const target = p.fds.get(Number(arg['fd']));
      if (target === undefined) return err('EBADF');
      if (f.g.container !== null) return err('EINVAL');
      if (target === 'tty' || target.kind !== 'container') return err('EBADFD');
      f.g.container = target.c;
      target.c.groups.push(f.g);
      return { ret: 0 };
    }
    const c = f.c;
    if (r['cmd'] === 'VFIO_SET_IOMMU') {
      if (c.groups.length === 0 || c.type1) return err('EINVAL');
      if (arg !== 'VFIO_TYPE1v2_IOMMU') return err('ENODEV');
      c.type1 = true;
      return { ret: 0 };
    }
    if (!c.type1) return err('EINVAL');
    const iova = u64(arg['iova']);
    const size = u64(arg['size']);
    return r['cmd'] === 'VFIO_IOMMU_MAP_DMA' ? this.map(p, c, iova, size, u64(arg['vaddr']), (arg['flags'] as string[]).length > 0) : this.unmap(c, iova, size);
  }

  /** vfio_dma_do_map's checks, in its order (v6.18). */
  private map(p: Proc, c: Container, iova: bigint, size: bigint, vaddr: bigint, prot: boolean): Observed {
    if (size === 0n) return err('EINVAL');
    if (wraps(iova, size) || wraps(vaddr, size)) return err('EOVERFLOW');
    if (!prot) return err('EINVAL');
    if (((size | iova | vaddr) & (PAGE - 1n)) !== 0n) return err('EINVAL');
    const end = iova + size - 1n;
    if (c.dmas.some((d) => d.iova <= end && iova <= d.iova + d.size - 1n)) return err(this.opts.overlapErrno);
    if (end > APERTURE_END || (iova <= MSI[1] && MSI[0] <= end)) return err('EINVAL');
    // every page must be mapped memory (vaddr_get_pfns)
    for (let a = vaddr; a < vaddr + size; a += PAGE) if (!p.vmas.some((v) => v.start <= a && a < v.end)) return err('EFAULT');
    c.dmas.push({ iova, size });
    return { ret: 0 };
  }

  /** vfio_dma_do_unmap's checks for type1v2, then the removal of every mapping inside the range. */
  private unmap(c: Container, iova: bigint, size: bigint): Observed {
    if ((iova & (PAGE - 1n)) !== 0n || size === 0n || (size & (PAGE - 1n)) !== 0n) return err('EINVAL');
    if (wraps(iova, size)) return err('EOVERFLOW');
    const end = iova + size;
    if (c.dmas.some((d) => d.iova < iova && iova < d.iova + d.size)) return err('EINVAL');
    if (c.dmas.some((d) => d.iova < end && end < d.iova + d.size)) return err('EINVAL');
    const gone = c.dmas.filter((d) => iova <= d.iova && d.iova + d.size <= end);
    c.dmas = c.dmas.filter((d) => !gone.includes(d));
    return { ret: 0, out: { size: `0x${gone.reduce((n, d) => n + d.size, 0n).toString(16)}` } };
  }
}
