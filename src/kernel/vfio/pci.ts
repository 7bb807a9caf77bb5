/**
 * Devices: the device file (drivers/vfio/vfio_main.c, drivers/vfio/group.c), vfio-pci's BAR
 * mmap, fault, memory-enable and reset (drivers/vfio/pci/vfio_pci_core.c, vfio_pci_config.c;
 * docs/kernel-notes.md item 4), unbind (vfio_unregister_group_dev), and device DMA translated
 * through the IOMMU page tables of the device's domain.
 */
import type { Prot, StimulusOf } from '../../vocab/records.js';
import { hex, PAGE_SIZE } from '../../log/u64.js';
import { runActions } from '../actions.js';
import { containerOf, deviceOf, fdFile, groupOf, processOf } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { type DmaLanding, type Outcome, type Tx } from '../../core/tx.js';
import type { Device, OpenFile, Process, Vma } from '../../core/world.js';
import { fput } from './files.js';
import { findDma, unmapUnpin } from './type1.js';
import { atOrBelow } from '../../core/iova-tree.js';
import * as sva from '../iommu/sva.js';
import { svaDma } from '../iommu/sva.js';
import { BadReference } from '../../vocab/errors.js';

/** VFIO_PCI_OFFSET_SHIFT: a region's offset in the device file is its index << 40. */
const OFFSET_SHIFT = 40n;
/** VFIO_PCI_ROM_REGION_INDEX: regions at or above it (ROM, config, VGA) cannot be mmapped. */
const ROM_REGION_INDEX = 6n;
/** VFIO_PCI_NUM_REGIONS. */
const NUM_REGIONS = 9n;

/** vfio_pci_core.c:vfio_pci_core_mmap: checks in order; no PTE is installed at mmap time. */
export function barMmap(tx: Tx, d: Device, file: number, addr: bigint, length: bigint, offset: bigint, prot: Prot): Vma {
  const at = 'vfio_pci_core.c:vfio_pci_core_mmap';
  if (d.mdev) tx.fail('EINVAL', 'the model\'s mdev vendor drivers have no mmap op');
  const index = offset >> OFFSET_SHIFT;
  if (index >= NUM_REGIONS) tx.fail('EINVAL', `${at}: index >= VFIO_PCI_NUM_REGIONS + num_regions`);
  // (vm_end < vm_start cannot happen; the model's device mmaps are MAP_SHARED.)
  if (index >= ROM_REGION_INDEX) tx.fail('EINVAL', `${at}: index >= VFIO_PCI_ROM_REGION_INDEX`);
  const bar = d.bars.find((b) => BigInt(b.index) === index);
  if (bar === undefined || bar.size < PAGE_SIZE) tx.fail('EINVAL', `${at}: !vdev->bar_mmap_supported[index]`);
  const reqStart = offset & ((1n << OFFSET_SHIFT) - 1n);
  const barLen = (bar.size + PAGE_SIZE - 1n) & ~(PAGE_SIZE - 1n);
  if (reqStart + length > barLen) tx.fail('EINVAL', `${at}: req_start + req_len > PAGE_ALIGN(bar_len)`);
  return { start: addr, end: addr + length, prot, kind: 'bar', phys: null, device: d.name, bar: bar.index, pgoff: reqStart, file, state: initialState('bar_mapping') };
}

/**
 * vfio_pci_mmap_huge_fault: under down_read(memory_lock), SIGBUS when memory decode is off,
 * else insert the pfns. Returns whether the vma is now populated.
 */
export function faultBar(tx: Tx, p: Process, v: Vma): boolean {
  const d = deviceOf(tx.world, v.device!);
  if (!d.memoryEnabled) {
    tx.emit('bar.fault', { pid: p.pid, addr: hex(v.start), device: d.name, bar: v.bar!, result: 'VM_FAULT_SIGBUS' });
    return false;
  }
  tx.fire('bar_mapping', `${p.mm}@${hex(v.start)}`, v, 'FAULT');
  tx.emit('bar.fault', { pid: p.pid, addr: hex(v.start), device: d.name, bar: v.bar!, result: 'VM_FAULT_NOPAGE' });
  return true;
}

/**
 * vfio_pci_zap_bars (v6.10+): unmap_mapping_range over the device inode, so every process's
 * BAR mmaps of the device lose their PTEs. IOMMU mappings of the BAR are not touched.
 */
function zapBars(tx: Tx, d: Device): void {
  for (const mm of tx.world.mms.values()) {
    for (const v of mm.vmas) {
      if (v.kind === 'bar' && v.device === d.name && v.state === 'populated') {
        tx.fire('bar_mapping', `${mm.id}@${hex(v.start)}`, v, 'ZAP');
        tx.emit('bar.zapped', { mm: mm.id, start: hex(v.start), end: hex(v.end), device: d.name, bar: v.bar! });
      }
    }
  }
}

/**
 * SPEC 1.3 `pci.command`: the user writes PCI_COMMAND through the config region;
 * vfio_pci_config.c:vfio_basic_config_write takes memory_lock for write, and a write with
 * MEMORY clear zaps the BARs every time (docs/kernel-notes.md 4b).
 */
export function pciCommand(tx: Tx, s: StimulusOf<'pci.command'>): Outcome {
  const p = processOf(tx.world, s.pid);
  const f = fdFile(tx, p, s.fd);
  if (f.kind !== 'device') tx.fail('EINVAL', 'fs/read_write.c:vfs_write: the file has no config region');
  const d = deviceOf(tx.world, f.device!);
  if (!s.memory && !d.mdev) zapBars(tx, d);
  if (d.memoryEnabled !== s.memory) tx.emit('pci.memory', { device: d.name, enabled: s.memory });
  d.memoryEnabled = s.memory;
  return { ret: 0n, decidedBy: 'vfio_pci_config.c:vfio_basic_config_write' };
}

/** The device file's ioctls: vfio_device_fops_unl_ioctl -> device->ops->ioctl. */
export function deviceIoctl(tx: Tx, _p: Process, d: Device, s: StimulusOf<'ioctl'>): Outcome {
  if (s.cmd === 'VFIO_DEVICE_RESET') {
    if (d.mdev) return { ret: 0n, decidedBy: 'the mdev vendor driver resets its emulated state' };
    // vfio_pci_core.c:vfio_pci_ioctl_reset: !reset_works -> EINVAL; down_write(memory_lock),
    // zap, pci_try_reset_function; the command register is restored by the reset's
    // save/restore of config state.
    tx.cascade('device.reset', { device: d.name }, () => zapBars(tx, d));
    return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_ioctl_reset' };
  }
  if (s.cmd === 'VFIO_DEVICE_BIND_TASK' || s.cmd === 'VFIO_DEVICE_UNBIND_TASK') {
    // Only the 2017 RFC scheme has these; upstream's vfio_pci_core_ioctl returns -ENOTTY.
    if (tx.scheme.pasidFree !== 'bind-task-flags') return tx.fail('ENOTTY', 'vfio_pci_core.c:vfio_pci_core_ioctl: unknown ioctl');
    return bindTaskIoctl(tx, _p, d, s);
  }
  return tx.fail('ENOTTY', 'vfio_pci_core.c:vfio_pci_core_ioctl: not a device ioctl');
}

/**
 * The 2017 RFC's vfio_svm_ioctl (seed 001): VFIO_DEVICE_BIND_TASK binds the caller's mm and
 * writes the PASID back; VFIO_DEVICE_UNBIND_TASK takes `{flags, pasid}`, flags among
 * FLUSHED and CLEAN (anything else: -EINVAL); released without either, the PASID is never
 * reused.
 */
function bindTaskIoctl(tx: Tx, p: Process, d: Device, s: StimulusOf<'ioctl'>): Outcome {
  const a = (typeof s.arg === 'object' && s.arg !== null ? s.arg : {}) as { flags?: unknown; pasid?: unknown };
  const flags = Array.isArray(a.flags) ? (a.flags as unknown[]) : [];
  if (s.cmd === 'VFIO_DEVICE_BIND_TASK') {
    const r = sva.bind(tx, { op: 'sva.bind', device: d.name, pid: p.pid, seq: s.seq, line: s.line });
    const bond = tx.world.bonds.find((b) => b.device === d.name && b.mm === p.mm && b.state !== 'unbound');
    if (bond !== undefined) bond.viaVfio = true;
    return { ...r, decidedBy: 'vfio.c:vfio_svm_ioctl: VFIO_DEVICE_BIND_TASK (2017 RFC)' };
  }
  if (flags.some((f) => f !== 'FLUSHED' && f !== 'CLEAN')) tx.fail('EINVAL', 'vfio.c:vfio_svm_ioctl: svm.flags & ~(VFIO_SVM_PASID_RELEASE_FLUSHED | VFIO_SVM_PASID_RELEASE_CLEAN)');
  const bond = tx.world.bonds.find((b) => b.device === d.name && b.pasid === a.pasid && b.state !== 'unbound');
  if (bond === undefined) return { ret: 0n, decidedBy: 'vfio.c:vfio_svm_ioctl: no task bound with that PASID' };
  bond.users = 1;
  sva.unbindPut(bond);
  sva.unbindDetach(tx, bond, flags.includes('FLUSHED') ? 'FLUSHED' : flags.includes('CLEAN') ? 'CLEAN' : 'none');
  return { ret: 0n, decidedBy: 'vfio.c:vfio_svm_ioctl: VFIO_DEVICE_UNBIND_TASK (2017 RFC)' };
}

/**
 * vfio_main.c:vfio_device_fops_release -> vfio_df_group_close -> vfio_df_close: the last close
 * runs close_device and vfio_device_group_unuse_iommu (container_users--, fput of the group
 * file); then the registration reference is put, which may complete a waiting unbind.
 */
export function releaseDeviceFile(tx: Tx, f: OpenFile): void {
  const d = deviceOf(tx.world, f.device!);
  const g = groupOf(tx.world, d.group);
  if (d.openCount === 1) {
    d.openCount = 0;
    // the 2017 RFC: "we do a pass of unbinds on release", without release flags
    for (const b of tx.world.bonds.filter((x) => x.device === d.name && x.viaVfio === true)) {
      b.users = 1;
      sva.unbindPut(b);
      sva.unbindDetach(tx, b, 'none');
    }
    // vma-link / dma-buf schemes: the owner's close unmaps (or revokes) the BAR's IOMMU mappings
    for (const l of d.linked) {
      const c = tx.world.containers.get(l.container);
      const dma = c?.type1?.dmas.get(l.iova);
      if (c !== undefined && dma !== undefined && dma.iommuMapped) tx.cascade('dma.revoked', { container: c.id, iova: hex(dma.iova), size: hex(dma.size) }, () => unmapUnpin(tx, c, dma, true));
    }
    if (g.container !== null) {
      const t = containerOf(tx.world, g.container).type1;
      if (t !== null) t.deviceList = t.deviceList.filter((n) => n !== d.name);
    }
    if (!d.mdev) d.memoryEnabled = false; // vfio_pci_core_disable: the device is disabled
    g.containerUsers -= 1;
    d.registrations -= 1;
    // The last registration reference: a waiting vfio_unregister_group_dev completes.
    tx.fire('device', d.name, d, 'CLOSE_LAST');
    fput(tx, g.file!);
  } else {
    d.openCount -= 1;
    d.registrations -= 1;
  }
}

/**
 * SPEC 1.3 `device.unbind`, first step: vfio_unregister_group_dev puts the registration
 * reference. With no user the completion has fired; otherwise the caller waits for the last
 * registration reference (open device files), relaying request() to the user.
 */
export function unbindPut(tx: Tx, s: StimulusOf<'device.unbind'>): Device {
  const d = deviceOf(tx.world, s.device);
  if (d.state !== 'closed' && d.state !== 'open') throw new BadReference('device', `device ${d.name} is already being unbound`);
  tx.fire('device', d.name, d, 'UNBIND');
  if ((d.state as string) === 'unregistering') tx.emit('device.request', { device: d.name, count: 0 });
  return d;
}

/** After the wait: vfio_device_remove_group (the device machine's REMOVE, action removeDevice). */
export function unbindRemove(tx: Tx, d: Device): Outcome {
  runActions(tx, 'device', d.name, tx.fire('device', d.name, d, 'REMOVE'));
  return { ret: 0n, decidedBy: 'vfio_main.c:vfio_unregister_group_dev' };
}

/**
 * The device machine's removeDevice action: vfio_device_remove_group when the group's last
 * device goes: force-detach the container and clear iommu_group.
 */
export function removeDevice(tx: Tx, d: Device): void {
  tx.touched.teardown = true;
  tx.cascade('device.unregistered', { device: d.name }, () => {
    const g = groupOf(tx.world, d.group);
    const others = g.devices.some((n) => n !== d.name && deviceOf(tx.world, n).state !== 'removed');
    if (others) return;
    g.iommuGroupPresent = false;
    runActions(tx, 'group', g.key, tx.fire('group', g.key, g, 'REMOVE'));
  });
}

/** SPEC 1.3 `device.dma`: translate and judge where it lands. */
export function deviceDma(tx: Tx, s: StimulusOf<'device.dma'>): Outcome {
  const d = deviceOf(tx.world, s.device);
  if (d.mdev) throw new BadReference('device', 'an mdev does not DMA itself; its vendor driver uses mdev.pin_pages or mdev.dma_rw');
  if (s.length === 0n) throw new BadReference('length', 'a DMA of length 0');
  const write = s.write === true;
  if (s.pasid !== undefined) return svaDma(tx, d, s.pasid, s.iova, s.length, write);
  const g = groupOf(tx.world, d.group);
  if (g.noiommu) {
    // No IOMMU: the bus address is the physical address; nothing granted it.
    tx.touched.landings.push({ kind: 'raw', phys: s.iova, size: s.length, device: d.name });
    tx.emit('dma.untranslated', { device: d.name, phys: hex(s.iova), length: hex(s.length) });
    return { dma: 'ok', decidedBy: 'noiommu: no translation' };
  }
  const c = g.container === null ? undefined : tx.world.containers.get(g.container);
  const domain = c?.type1?.domain ?? null;
  // While vfio owns the group and no container domain is attached the group sits in the
  // blocking domain (iommu_group_claim_dma_owner): every DMA faults.
  if (c === undefined || domain === null || !domain.groups.includes(g.key)) {
    tx.emit('iommu.fault', { device: d.name, iova: hex(s.iova), reason: 'no domain' });
    return { dma: 'fault', decidedBy: 'blocking domain: the group is not attached to an IOMMU domain' };
  }
  const landings: DmaLanding[] = [];
  let at = s.iova;
  const end = s.iova + s.length;
  while (at < end) {
    // the PTE run containing `at`: the last one starting at or below it
    const cand = atOrBelow(domain.ptes, at);
    const pte = cand !== undefined && at < cand.iova + cand.size ? cand : undefined;
    const found = pte === undefined ? undefined : findDma(c!.type1!, pte.iova, 1n);
    const dma = found !== undefined && found.id === pte!.dma ? found : undefined;
    if (pte === undefined || (write && dma !== undefined && !dma.prot.write) || (!write && dma !== undefined && !dma.prot.read)) {
      tx.emit('iommu.fault', { device: d.name, iova: hex(at), reason: pte === undefined ? 'no PTE' : 'permission' });
      return { dma: 'fault', decidedBy: `IOMMU: ${pte === undefined ? 'no translation' : 'permission fault'} at ${hex(at)}` };
    }
    const chunkEnd = pte.iova + pte.size < end ? pte.iova + pte.size : end;
    const phys = pte.phys + (at - pte.iova);
    const size = chunkEnd - at;
    const ext = dma?.extents.find((e) => e.iova <= at && at < e.iova + e.size);
    if (ext !== undefined && ext.kind === 'mmio') {
      const target = deviceOf(tx.world, ext.device!);
      const owner = tx.world.processes.get(dma!.task);
      // The owner holds the BAR's device open through an fd or through a vma of it
      // (vma->vm_file keeps the device file, and so the device, open), or through a file whose
      // release is still pending: an exiting owner's fds are gone after exit_files, but the
      // device is closed only when the deferred ____fput runs (kernel/exit.c:do_exit,
      // fs/file_table.c:fput). A device open and used by nobody else is still the owner's.
      const uses = (p: Process): boolean =>
        [...p.fds.values()].some((id) => {
          const f = tx.world.files.get(id);
          return f?.kind === 'device' && f.device === target.name;
        }) || (tx.world.mms.get(p.mm)?.vmas ?? []).some((v) => v.kind === 'bar' && v.device === target.name);
      const holds =
        owner !== undefined &&
        (uses(owner) || (target.openCount > 0 && ![...tx.world.processes.values()].some((p) => p !== owner && p.state !== 'exited' && uses(p))));
      landings.push({ kind: 'mmio', phys, size, dma: pte.dma, device: target.name, bar: ext.bar!, decodeOn: target.memoryEnabled, present: target.state !== 'removed', ownerHoldsOpen: holds });
    } else {
      landings.push({ kind: 'ram', phys, size, dma: pte.dma, pinned: ext !== undefined && dma !== undefined && dma.state !== 'removed' });
    }
    at = chunkEnd;
  }
  tx.touched.landings.push(...landings);
  tx.emit('dma.translated', { device: d.name, iova: hex(s.iova), length: hex(s.length), write, phys: landings.map((l) => hex(l.phys)) });
  return { dma: 'ok', decidedBy: 'IOMMU: translated through the container domain' };
}

