/**
 * The steps of the BAR zap (machines/paths/zap.machine.ts): a PCI_COMMAND write
 * (vfio_pci_config.c vfio_basic_config_write), VFIO_DEVICE_RESET (vfio_pci_core.c
 * vfio_pci_ioctl_reset) or LOW_POWER_ENTRY (vfio_pci_runtime_pm_entry), under
 * down_write(memory_lock). Clearing MEMORY or resetting zaps the
 * BARs through unmap_mapping_range, which invalidates every mm mapping them; each notifier
 * callback is a step. Under the dma-buf scheme the BAR's buffers are revoked first and restored
 * when decode comes back.
 */
import { acquire, assertHeld, release } from '../core/locks.js';
import type { Tx } from '../core/tx.js';
import type { Device, World } from '../core/world.js';
import { subscribersOf } from '../kernel/mm/mmu_notifier.js';
import { linksOf } from '../kernel/vfio/pci/links.js';
import { checkIoctlArgs } from '../kernel/vfio/fops.js';
import { isPmEntry } from '../kernel/vfio/pci/pm.js';
import { lockOf, writeLock } from '../vocab/locks.js';
import type { Stimulus, StimulusOf } from '../vocab/records.js';
import { runEntry } from './atomic.js';
import { beginInvalidation, callbackStep, endInvalidation, startCalls, type CallbackLocals } from './callbacks.js';
import { definePath } from './types.js';

type ZapOp = 'pci.command' | 'ioctl';

interface ZapLocals extends CallbackLocals {
  device: string;
  /** Every (mm, vma range) mapping the device's BARs: unmap_mapping_range visits each. */
  maps: Array<{ mm: number; start: bigint; end: bigint }>;
}

/**
 * The device a zap acts on, if the write or reset reaches vfio-pci (not an mdev's). A reset of a
 * device without reset_works fails first (vfio_pci_ioctl_reset: `if (!vdev->reset_works) return
 * -EINVAL;` precedes vfio_pci_zap_and_down_write_memory_lock): no lock, no zap.
 */
function zapDevice(w: World, s: StimulusOf<ZapOp>): string | undefined {
  const id = w.processes.get(s.pid)?.fds.get(s.fd);
  const f = id === undefined ? undefined : w.files.get(id);
  if (f?.kind !== 'device') return undefined;
  const d = w.devices.get(f.device!);
  if (d === undefined || d.mdev) return undefined;
  return s.op === 'ioctl' && s.cmd === 'VFIO_DEVICE_RESET' && !d.resetWorks ? undefined : d.name;
}

function barMappings(w: World, device: string): ZapLocals['maps'] {
  const out = [];
  for (const mm of w.mms.values()) for (const v of mm.vmas) if (v.kind === 'bar' && v.device === device) out.push({ mm: mm.id, start: v.start, end: v.end });
  return out;
}

/** vfio_pci_dma_buf_move(vdev, false): memory decode is back, and the dma-bufs with it. */
function restoreDmabufs(tx: Tx, d: Device): void {
  if (tx.policy.pfnmap.dmabuf && d.revoked) {
    assertHeld(tx, lockOf.memory(d.name), `${d.name}'s dma-bufs (revoked)`, 'write'); // vfio_pci_dmabuf.c:vfio_pci_dma_buf_move: lockdep_assert_held_write(&vdev->memory_lock)
    d.revoked = false;
    tx.emit('dmabuf.restored', { device: d.name });
  }
}

/**
 * Whether a stimulus is a zap: a PCI_COMMAND write, VFIO_DEVICE_RESET, or VFIO_DEVICE_FEATURE
 * SET LOW_POWER_ENTRY past its flag checks (vfio_pci_runtime_pm_entry starts with
 * vfio_pci_zap_and_down_write_memory_lock and vfio_pci_dma_buf_move(vdev, true)).
 */
export function isZap(s: Stimulus): s is StimulusOf<ZapOp> {
  return s.op === 'pci.command' || (s.op === 'ioctl' && (s.cmd === 'VFIO_DEVICE_RESET' || isPmEntry(s)));
}

export const zap = definePath<ZapLocals, ZapOp>()('zap', {
  enter: {
    mirrors: 'drivers/vfio/pci/vfio_pci_core.c:vfio_pci_zap_and_down_write_memory_lock -> vfio_pci_zap_bars -> unmap_mapping_range',
    requires: (w, _t, rp) => {
      const dev = zapDevice(w, rp.stimulus);
      return dev === undefined ? [] : [writeLock(lockOf.memory(dev))];
    },
    run(tx, task, rp) {
      const s = rp.stimulus;
      if (s.op === 'ioctl') checkIoctlArgs(s); // a malformed record is bad input before anything is zapped
      const dev = zapDevice(tx.world, s);
      if (dev === undefined) {
        rp.ctx.outcome = runEntry(tx, s);
        return 'RETURN';
      }
      acquire(tx, task, lockOf.memory(dev), 'write', 'zap.enter (memory_lock)');
      const d = tx.world.devices.get(dev)!;
      if (s.op === 'pci.command' && s.memory) {
        rp.ctx.outcome = runEntry(tx, s);
        restoreDmabufs(tx, d);
        release(tx, task, lockOf.memory(dev));
        return 'RETURN';
      }
      // vfio_pci_dma_buf_move(vdev, true) under memory_lock: from here on no importer maps it
      if (tx.policy.pfnmap.dmabuf && !d.revoked) {
        assertHeld(tx, lockOf.memory(dev), `${dev}'s dma-bufs (revoked)`, 'write'); // vfio_pci_dmabuf.c:vfio_pci_dma_buf_move: lockdep_assert_held_write(&vdev->memory_lock)
        d.revoked = true;
        tx.emit('dmabuf.revoked', { device: dev });
      }
      const ctx = rp.ctx;
      ctx.device = dev;
      ctx.maps = barMappings(tx.world, dev);
      const calls = [];
      for (const m of ctx.maps) {
        beginInvalidation(tx, task, ctx, m.mm, m.start, m.end, true, 'zap.enter (unmap_mapping_range)');
        for (const sub of subscribersOf(tx.world, m.mm, m.start, m.end)) calls.push({ sub, ...m });
      }
      // the mms' callbacks run inside invalidate_range_start (the lockdep map); the BAR's own
      // links (vma-link / dma-buf schemes: not an mm's) are torn down after it returned
      const inStart = calls.length;
      for (const sub of linksOf(tx.world, dev)) calls.push({ sub, mm: 0, start: 0n, end: 0n });
      return startCalls(tx, task, ctx, calls, inStart, 'CALLBACK', 'END');
    },
  },
  callback: callbackStep('mm/mmu_notifier.c:mn_hlist_invalidate_range_start (one subscriber of a zapped mm)', 'zap.callback', 'NEXT', 'END'),
  leave: {
    mirrors: 'mm/mmu_notifier.c:__mmu_notifier_invalidate_range_end; vfio_pci_config.c:vfio_basic_config_write or vfio_pci_core.c:vfio_pci_ioctl_reset; up_write(memory_lock)',
    run(tx, task, rp) {
      const ctx = rp.ctx;
      for (const m of [...ctx.maps].reverse()) endInvalidation(tx, task, ctx, m.mm, true, 'zap.leave (invalidate_range_end)');
      rp.ctx.outcome = runEntry(tx, rp.stimulus);
      // after a reset, vfio_pci_ioctl_reset un-revokes the dma-bufs if memory is enabled
      const d = tx.world.devices.get(ctx.device)!;
      if (rp.stimulus.op === 'ioctl' && rp.stimulus.cmd === 'VFIO_DEVICE_RESET' && d.memoryEnabled) restoreDmabufs(tx, d);
      release(tx, task, lockOf.memory(ctx.device));
      return 'RETURN';
    },
  },
});
