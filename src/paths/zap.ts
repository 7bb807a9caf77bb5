/**
 * Entry points the model runs as one atomic step, and the locks each takes, in the kernel's
 * order. The step waits until all are free, then takes them nested, so lockdep sees their order
 * (docs/concurrency.md: why one step is a sound reduction for these). The zap path
 * (PCI_COMMAND memory off, VFIO_DEVICE_RESET) also calls the MMU notifiers of every mm mapping
 * the BAR (unmap_mapping_range -> invalidate_range_start).
 */
import type { Stimulus, StimulusOf } from '../vocab/records.js';
import { acquire, holding, release, type Mode } from '../core/locks.js';
import { vmaAt } from '../core/lookup.js';
import type { Tx } from '../core/tx.js';
import type { Container, RunningPath, World } from '../core/world.js';
import { runRule, type Rule } from './atomic.js';
import { callbackRequires, invalidateEnd, invalidateStart, linksOf, runCallback, subscribersOf, type Subscriber } from '../kernel/mm/mmu_notifier.js';
import type { PathDef, Requirement } from './types.js';

type Locks = Array<{ lock: string; mode: Mode }>;

const mmapLock = (mm: number, mode: Mode): { lock: string; mode: Mode } => ({ lock: `mmap_lock#${mm}`, mode });

/** vfio_lock_acct uncharges each live mm under its mmap_lock (write) when dmas go. */
function unchargeLocks(w: World, c: Container): Locks {
  const mms = new Set<number>();
  for (const d of c.type1?.dmas.valuesArray() ?? []) if (d.lockedVm > 0 && w.mms.get(d.mm)?.state === 'live') mms.add(d.mm);
  return [...mms].sort((a, b) => a - b).map((mm) => mmapLock(mm, 'write'));
}

function fileOfFd(w: World, pid: number, fd: number) {
  const id = w.processes.get(pid)?.fds.get(fd);
  return id === undefined ? undefined : w.files.get(id);
}

/** The locks of a stimulus that runs as one step, in the order the kernel takes them. */
export function singleStepLocks(w: World, s: Stimulus): Locks {
  const p = 'pid' in s ? w.processes.get(s.pid as number) : undefined;
  switch (s.op) {
    case 'mmap':
      return p === undefined ? [] : [mmapLock(p.mm, 'write')];
    case 'fork':
      return p === undefined ? [] : [mmapLock(p.mm, 'write')]; // dup_mmap
    case 'touch': {
      if (p === undefined) return [];
      const v = vmaAt(w.mms.get(p.mm)!, s.addr);
      // the page fault holds mmap_lock for read; vfio_pci_mmap_huge_fault takes memory_lock for read
      return [mmapLock(p.mm, 'read'), ...(v?.kind === 'bar' && v.state === 'empty' ? [{ lock: `memory_lock#${v.device!}`, mode: 'read' as const }] : [])];
    }
    case 'ioctl':
      return ioctlLocks(w, s);
    case 'mdev.pin_pages':
    case 'mdev.unpin_pages':
    case 'mdev.dma_rw': {
      const d = w.devices.get(s.device);
      const g = d === undefined ? undefined : w.groups.get(d.group);
      const c = g?.container == null ? undefined : w.containers.get(g.container);
      if (c?.type1 == null) return [];
      const locks: Locks = [{ lock: `iommu.lock#${c.id}`, mode: 'write' }];
      if (s.op === 'mdev.dma_rw') {
        // vfio_dma_rw copies through the owner's mm (kthread_use_mm; faults take mmap_lock)
        const mms = new Set<number>();
        for (const x of c.type1.dmas.valuesArray()) if (x.iova < s.iova + s.length && s.iova < x.iova + x.size && w.mms.get(x.mm)?.state === 'live') mms.add(x.mm);
        for (const mm of [...mms].sort((a, b) => a - b)) locks.push(mmapLock(mm, 'read'));
      }
      return locks;
    }
    case 'sva.bind':
      // iommu_sva_bind_device under iommu_sva_lock; the SVA domain registers an MMU notifier
      return [{ lock: 'iommu_sva_lock', mode: 'write' }, ...(p === undefined || w.mms.get(p.mm)?.state !== 'live' ? [] : [mmapLock(p.mm, 'write')])];
    default:
      return [];
  }
}

function ioctlLocks(w: World, s: StimulusOf<'ioctl'>): Locks {
  const f = fileOfFd(w, s.pid, s.fd);
  if (f === undefined) return [];
  if (f.kind === 'container') {
    const c = w.containers.get(f.container!);
    if (c === undefined) return [];
    if (s.cmd === 'VFIO_SET_IOMMU') return [{ lock: `container.group_lock#${c.id}`, mode: 'write' }];
    if (c.type1 !== null && s.cmd === 'VFIO_IOMMU_GET_INFO') return [{ lock: `iommu.lock#${c.id}`, mode: 'write' }];
    return [];
  }
  if (f.kind === 'group') {
    const g = w.groups.get(f.group!);
    if (g === undefined) return [];
    const groupLock = { lock: `group.group_lock#${g.key}`, mode: 'write' as const };
    const containerLocks = (c: Container | undefined, detaching: boolean): Locks =>
      c === undefined
        ? []
        : [
            { lock: `container.group_lock#${c.id}`, mode: 'write' },
            ...(c.type1 === null ? [] : [{ lock: `iommu.lock#${c.id}`, mode: 'write' as const }]),
            ...(detaching && c.groups.length === 1 ? unchargeLocks(w, c) : []),
          ];
    if (s.cmd === 'VFIO_GROUP_SET_CONTAINER') {
      const target = typeof s.arg === 'object' && s.arg !== null ? fileOfFd(w, s.pid, (s.arg as { fd?: number }).fd ?? -1) : undefined;
      return [groupLock, ...containerLocks(target?.kind === 'container' ? w.containers.get(target.container!) : undefined, false)];
    }
    if (s.cmd === 'VFIO_GROUP_UNSET_CONTAINER') return [groupLock, ...containerLocks(g.container === null ? undefined : w.containers.get(g.container), true)];
    if (s.cmd === 'VFIO_GROUP_GET_DEVICE_FD') {
      const name = typeof s.arg === 'object' && s.arg !== null ? (s.arg as { name?: unknown }).name : undefined;
      return [groupLock, ...(typeof name === 'string' && w.devices.has(name) ? [{ lock: `dev_set.lock#${name}`, mode: 'write' as const }] : [])];
    }
  }
  return [];
}

/** The atomic path with the locks of singleStepLocks. */
export function lockedAtomicPath(rules: { [O in Stimulus['op']]: Rule<O> | null }): PathDef {
  return {
    machine: 'atomic',
    steps: {
      run: {
        requires: (w, _t, rp): Requirement[] => singleStepLocks(w, rp.stimulus),
        run(tx, task, rp) {
          const s = rp.stimulus;
          rp.ctx['outcome'] = holding(tx, task, singleStepLocks(tx.world, s), `${s.op}`, () => runRule(tx, rules[s.op] as Rule<Stimulus['op']>, s));
          return 'DONE';
        },
      },
    },
  };
}

/** The device a zap (PCI_COMMAND memory off, VFIO_DEVICE_RESET) acts on, if it reaches vfio-pci. */
function zapDevice(w: World, s: Stimulus): string | undefined {
  if (s.op !== 'pci.command' && !(s.op === 'ioctl' && s.cmd === 'VFIO_DEVICE_RESET')) return undefined;
  const f = fileOfFd(w, s.pid, s.fd);
  if (f?.kind !== 'device') return undefined;
  const d = w.devices.get(f.device!);
  return d === undefined || d.mdev ? undefined : d.name;
}

/** Every (mm, vma range) mapping the device's BARs: unmap_mapping_range visits each. */
function barMappings(w: World, device: string): Array<{ mm: number; start: bigint; end: bigint }> {
  const out = [];
  for (const mm of w.mms.values()) for (const v of mm.vmas) if (v.kind === 'bar' && v.device === device) out.push({ mm: mm.id, start: v.start, end: v.end });
  return out;
}

interface ZapCtx {
  device: string;
  maps: Array<{ mm: number; start: bigint; end: bigint }>;
  subs: Array<{ map: number; sub: Subscriber }>;
  i: number;
}

const zapCtx = (rp: RunningPath): ZapCtx => rp.ctx as unknown as ZapCtx;

/**
 * PCI_COMMAND writes and VFIO_DEVICE_RESET (vfio_pci_config.c vfio_basic_config_write,
 * vfio_pci_core.c vfio_pci_ioctl_reset) as a path of machines/paths/invalidate-range.machine.ts:
 * enter: down_write(memory_lock); clearing MEMORY or resetting zaps the BARs through
 * unmap_mapping_range, which invalidates every mm mapping them (invalidate_range_start); each
 * notifier callback is a step; leave: invalidate_range_end, the rule changes the device,
 * up_write(memory_lock). Writes that zap nothing run in the enter step.
 */
export function zapPath(rules: { [O in Stimulus['op']]: Rule<O> | null }): PathDef {
  const runTheRule = (tx: Tx, rp: RunningPath): void => {
    rp.ctx['outcome'] = runRule(tx, rules[rp.stimulus.op] as Rule<Stimulus['op']>, rp.stimulus);
  };
  return {
    machine: 'invalidate_range',
    steps: {
      enter: {
        requires: (w, _t, rp): Requirement[] => {
          const dev = zapDevice(w, rp.stimulus);
          return dev === undefined ? [] : [{ lock: `memory_lock#${dev}`, mode: 'write' }];
        },
        run(tx, task, rp) {
          const s = rp.stimulus;
          const dev = zapDevice(tx.world, s);
          if (dev === undefined) {
            runTheRule(tx, rp);
            return 'RETURN';
          }
          acquire(tx, task, `memory_lock#${dev}`, 'write', 'zap.enter (memory_lock)');
          const d = tx.world.devices.get(dev)!;
          if (s.op === 'pci.command' && s.memory) {
            runTheRule(tx, rp);
            // vfio_pci_dma_buf_move(vdev, false): memory decode is back, the dma-bufs too
            if (tx.scheme.pfnmap === 'dmabuf' && d.revoked) {
              d.revoked = false;
              tx.emit('dmabuf.restored', { device: dev });
            }
            release(tx, task, `memory_lock#${dev}`);
            return 'RETURN';
          }
          // vfio_pci_dma_buf_move(vdev, true) under memory_lock: from here on no importer maps it
          if (tx.scheme.pfnmap === 'dmabuf' && !d.revoked) {
            d.revoked = true;
            tx.emit('dmabuf.revoked', { device: dev });
          }
          const ctx = zapCtx(rp);
          ctx.device = dev;
          ctx.maps = barMappings(tx.world, dev);
          ctx.subs = [];
          ctx.maps.forEach((m, k) => {
            invalidateStart(tx, task, m.mm, m.start, m.end, true, 'zap.enter (unmap_mapping_range)');
            for (const sub of subscribersOf(tx.world, m.mm, m.start, m.end)) ctx.subs.push({ map: k, sub });
          });
          // vma-link / dma-buf schemes: the BAR's own links are torn down too (map -1: not an mm)
          for (const sub of linksOf(tx.world, dev)) ctx.subs.push({ map: -1, sub });
          ctx.i = 0;
          return ctx.subs.length > 0 ? 'CALLBACK' : 'END';
        },
      },
      callback: {
        requires: (w, task, rp, scheme): Requirement[] => callbackRequires(w, scheme, zapCtx(rp).subs[zapCtx(rp).i]?.sub, task),
        run(tx, task, rp) {
          const ctx = zapCtx(rp);
          const { map, sub } = ctx.subs[ctx.i]!;
          const m = ctx.maps[map];
          runCallback(tx, task, sub, m?.mm ?? 0, m?.start ?? 0n, m?.end ?? 0n, 'zap.callback');
          ctx.i += 1;
          return ctx.i < ctx.subs.length ? 'NEXT' : 'END';
        },
      },
      leave: {
        run(tx, task, rp) {
          const ctx = zapCtx(rp);
          for (const m of [...ctx.maps].reverse()) invalidateEnd(tx, task, m.mm, true);
          runTheRule(tx, rp);
          // after a reset, vfio_pci_ioctl_reset un-revokes the dma-bufs if memory is enabled
          const d = tx.world.devices.get(ctx.device)!;
          if (tx.scheme.pfnmap === 'dmabuf' && rp.stimulus.op === 'ioctl' && d.memoryEnabled && d.revoked) {
            d.revoked = false;
            tx.emit('dmabuf.restored', { device: ctx.device });
          }
          release(tx, task, `memory_lock#${ctx.device}`);
          return 'RETURN';
        },
      },
    },
  };
}
