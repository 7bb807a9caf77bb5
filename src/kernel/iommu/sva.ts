/**
 * SVA and I/O page faults: iommu_sva_bind_device / iommu_sva_unbind_device
 * (drivers/iommu/iommu-sva.c), the global PASID allocator (iommu_alloc_global_pasid; freed at
 * kernel/fork.c:__mmdrop -> mm_pasid_drop), page requests (drivers/iommu/io-pgfault.c:
 * iommu_report_device_fault, iommu_sva_handle_iopf, iopf_queue_remove_device) and the MMU
 * notifier release that disables a PASID's translation when the mm exits
 * (arm-smmu-v3-sva.c:arm_smmu_mm_release, intel svm.c:intel_mm_release).
 * docs/kernel-notes.md items 6 and 8.
 */
import type { StimulusOf } from '../../vocab/records.js';
import { hex } from '../../log/u64.js';
import { deviceOf, mmOf, vmaAt } from '../../core/lookup.js';
import { initialState } from '../../core/stepper.js';
import { type NotifierOps, type Outcome, Tx } from '../../core/tx.js';
import { newId, type Device, type Mm, type PageRequest, type Subscriber, type SvaBond, type World } from '../../core/world.js';
import { mmDrop, mmGrab, releasePasid } from '../mm/mm.js';
import { backAnon } from '../mm/mm.js';
import { BadReference, showValue } from '../../vocab/errors.js';
import { noteFree } from '../../core/lifetimes.js';
import { type LockUse, lockOf, writeLock } from '../../vocab/locks.js';

/** IOMMU_FIRST_GLOBAL_PASID: PASID 0 is the RID's. */
const FIRST_GLOBAL_PASID = 1;

/** dev->iommu->max_pasids: 1 << the PASID width, 0 without the PASID capability (pasid_bits 0). */
function maxPasids(d: Device): number {
  return d.pasidBits === 0 ? 0 : 2 ** d.pasidBits;
}

/**
 * The global allocator: the lowest free PASID in [1, max_pasids - 1] (ida_alloc_range, inclusive;
 * iommu.c:iommu_alloc_global_pasid since v6.6, which gives none when max_pasids == 0; the
 * ioasid_set before v6.4, which hands out the lowest free id of the range too).
 */
function allocPasid(tx: Tx, max: number): number | null {
  for (let p = FIRST_GLOBAL_PASID; p < max; p += 1) {
    const e = tx.world.pasids.get(p);
    if (e === undefined || e.state === 'free') return p;
  }
  return null;
}

/**
 * Whether the PASID an mm already has is out of this device's range: `pasid >= max_pasids`
 * (iommu_alloc_mm_data; iommu_sva_alloc_pasid's `mm->pasid > max` with max = max_pasids - 1 since
 * v6.4); before v6.4 iommu_sva_alloc_pasid tested `mm->pasid >= max`, refusing max_pasids - 1 too.
 */
function pasidOutOfRange(tx: Tx, pasid: number, max: number): boolean {
  return tx.release.has('sva-pasid-ida') ? pasid >= max : pasid >= max - 1;
}

/** The `sva.bind` stimulus: iommu_sva_bind_device(dev, mm). */
export function bind(tx: Tx, s: StimulusOf<'sva.bind'>): Outcome {
  const d = deviceOf(tx.world, s.device);
  const p = tx.world.processes.get(s.pid);
  if (p === undefined) throw new BadReference('pid', `no process ${s.pid}`);
  const mm = mmOf(tx.world, p.mm);
  const at = 'iommu-sva.c:iommu_sva_bind_device';
  // v6.11+: `if (!group) return ERR_PTR(-ENODEV)` is the first check (a device behind no IOMMU,
  // noiommu mode, has no iommu_group); before, the driver's required first call,
  // iommu_dev_enable_feature(dev, IOMMU_DEV_FEAT_SVA), gives -ENODEV without dev->iommu.
  if (tx.world.groups.get(d.group)?.noiommu === true) tx.fail('ENODEV', `${at}: !dev->iommu_group`);
  // The caller holds an mm_users reference: a process that exited cannot be bound.
  if (mm.state !== 'live') tx.fail('EINVAL', `${at}: the mm has no users (mmget_not_zero failed)`);
  const max = maxPasids(d);
  // Before v6.6 (VERSIONED_RULES 'sva-core-pasid'): `if (!max_pasids) return ERR_PTR(-EOPNOTSUPP)`.
  if (!tx.release.has('sva-core-pasid') && max === 0) tx.fail('EOPNOTSUPP', `${at}: !dev->iommu->max_pasids (the device supports no PASID)`);
  // The mm's PASID (iommu_alloc_mm_data; iommu_sva_alloc_pasid before): one per mm, shared by
  // every device, refused when out of this device's range.
  let pasid = mm.pasid;
  if (pasid !== null && pasidOutOfRange(tx, pasid, max)) {
    tx.fail('EOVERFLOW', `iommu-sva.c: the mm's PASID ${pasid} is out of the device's range (${tx.release.has('sva-pasid-ida') ? 'pasid >= max_pasids' : 'pasid >= max_pasids - 1'})`);
  }
  const existing = tx.world.bonds.find((b) => b.device === d.name && b.mm === mm.id && b.state !== 'unbound');
  if (existing !== undefined) {
    // v6.10+: a repeated (dev, mm) bind returns the same handle with a reference.
    existing.users += 1;
    return { ret: 0n, out: { pasid: existing.pasid }, decidedBy: `${at}: existing handle` };
  }
  if (pasid === null) {
    const got = allocPasid(tx, max);
    if (got === null) {
      // v6.6+ iommu_alloc_global_pasid == IOMMU_PASID_INVALID -> -ENOSPC; v6.4-v6.5 the
      // ida_alloc_range error (-ENOSPC); before v6.4 `!pasid_valid(ioasid_alloc(...))` -> -ENOMEM.
      if (tx.release.has('sva-pasid-ida')) tx.fail('ENOSPC', `iommu-sva.c: no free PASID in [1, max_pasids - 1] (${tx.release.has('sva-core-pasid') ? 'iommu.c:iommu_alloc_global_pasid' : 'ida_alloc_range'})`);
      tx.fail('ENOMEM', 'iommu-sva.c:iommu_sva_alloc_pasid: ioasid_alloc found no free PASID in [1, max_pasids - 1]');
    }
    pasid = got;
    const entry = tx.world.pasids.get(pasid) ?? { state: initialState('pasid'), mm: null };
    tx.world.pasids.set(pasid, entry);
    tx.fire('pasid', String(pasid), entry, 'ALLOCATE');
    entry.mm = mm.id;
    mm.pasid = pasid;
    const p2 = pasid;
    const stillUsedBy = [...tx.world.devices.values()]
      .filter((x) => x.pasidsInUse.includes(p2) || tx.world.pageRequests.some((r) => r.device === x.name && r.pasid === p2 && r.state === 'pending'))
      .map((x) => x.name);
    tx.touched.pasidAllocations.push({ pasid, mm: mm.id, stillUsedBy });
    tx.emit('pasid.allocated', { pasid, mm: mm.id });
  }
  // iommu_sva_domain_alloc: the SVA domain holds mmgrab(mm) and an MMU notifier.
  mmGrab(mm);
  mm.svaNotifiers.push(d.name);
  const bond: SvaBond = { device: d.name, mm: mm.id, pid: p.pid, pasid, users: 1, state: initialState('sva_bond') };
  tx.world.bonds.push(bond);
  if (!d.pasidsInUse.includes(pasid)) d.pasidsInUse.push(pasid);
  d.pasidsStopped = d.pasidsStopped.filter((x) => x !== pasid);
  tx.emit('sva.bound', { device: d.name, pid: p.pid, pasid });
  return { ret: 0n, out: { pasid }, decidedBy: at };
}

/** An SVA bond's key for the paths that keep a pointer to it (src/core/lifetimes.ts): device, PASID and mm. */
export function bondKey(b: { readonly device: string; readonly pasid: number; readonly mm: number }): string {
  return `${b.device}/${b.pasid}/mm${b.mm}`;
}

/** The SVA bond an unbind names (the handle iommu_sva_unbind_device gets). */
export function bondToUnbind(tx: Tx, s: StimulusOf<'sva.unbind'>): SvaBond {
  const d = deviceOf(tx.world, s.device);
  const p = tx.world.processes.get(s.pid);
  if (p === undefined) throw new BadReference('pid', `no process ${s.pid}`);
  const bond = tx.world.bonds.find((b) => b.device === d.name && b.mm === p.mm && b.state !== 'unbound');
  if (bond === undefined) throw new BadReference('device', `no SVA bond of ${showValue(d.name)} to process ${s.pid} to unbind`);
  return bond;
}

/** iommu_sva_unbind_device, first part: drop a handle reference; true if it was the last. */
export function unbindPut(bond: SvaBond): boolean {
  bond.users -= 1;
  return bond.users === 0;
}

/**
 * iommu_sva_unbind_device, after the fault queue is flushed: iommu_detach_device_pasid, every
 * pending request of the attachment answered INVALID (iopf_queue_remove_device / auto-response,
 * v6.8+), the domain freed (mmdrop).
 */
export function unbindDetach(tx: Tx, bond: SvaBond, flags: 'none' | 'FLUSHED' | 'CLEAN' = 'none'): Outcome {
  const d = deviceOf(tx.world, bond.device);
  const policy = tx.policy.pasid;
  tx.cascade('sva.unbound', { device: d.name, pid: bond.pid, pasid: bond.pasid }, () => {
    // Before v5.18 (and v6.8's iopf_queue_remove_device) nothing answered the pending requests.
    if (policy.drainsAtUnbind) answerPending(tx, d, bond.pasid);
    tx.fire('sva_bond', `${d.name}/${bond.pasid}`, bond, 'UNBIND');
    const mm = mmOf(tx.world, bond.mm);
    mm.svaNotifiers = mm.svaNotifiers.filter((n) => n !== d.name);
    noteFree(tx, 'sva_bond', bondKey(bond), null, 'iommu-sva.c:iommu_sva_unbind_device: kfree(handle)');
    tx.world.bonds = tx.world.bonds.filter((b) => b !== bond);
    const lastBond = !tx.world.bonds.some((b) => b.mm === mm.id);
    const release = lastBond ? policy.atLastUnbind(flags) : null;
    if (release !== null) releasePasid(tx, mm, release.how, release.why);
    mmDrop(tx, mm); // iommu_domain_free -> mmdrop
  });
  return { ret: 0n, decidedBy: 'iommu-sva.c:iommu_sva_unbind_device' };
}

function answerPending(tx: Tx, d: Device, pasid: number): void {
  for (const r of tx.world.pageRequests) {
    if (r.device === d.name && r.pasid === pasid && r.state === 'pending') respond(tx, r, 'INVALID');
  }
  tx.world.pageRequests = tx.world.pageRequests.filter((r) => r.state === 'pending');
}

function respond(tx: Tx, r: PageRequest, code: 'SUCCESS' | 'INVALID'): void {
  tx.fire('page_request', String(r.id), r, 'RESPOND');
  r.response = code;
  tx.emit('page_response', { device: r.device, pasid: r.pasid, addr: hex(r.addr), code });
}

/**
 * mmu_notifier_release from exit_mmap: every SVA bond of the mm stops translating (the
 * driver's release writes a quiet/invalid PASID entry). Faults after that are answered INVALID.
 */
export function mmRelease(tx: Tx, mm: Mm): void {
  for (const b of tx.world.bonds) {
    if (b.mm === mm.id && b.state === 'bound') {
      tx.fire('sva_bond', `${b.device}/${b.pasid}`, b, 'MM_RELEASE');
      tx.emit('mmu_notifier.release', { mm: mm.id, device: b.device, pasid: b.pasid });
    }
  }
}

/** The `device.page_request` stimulus, first part: iommu_report_device_fault queues the request. */
export function reportFault(tx: Tx, s: StimulusOf<'device.page_request'>): PageRequest | null {
  const d = deviceOf(tx.world, s.device);
  if (!d.pri) throw new BadReference('device', `${showValue(d.name)} has no PRI (declare it with "pri": true)`);
  // A device that stopped a PASID (PCIe PASID stop, device.stop_pasid) sends no more page
  // requests on it: in a schedule where the request would come after the stop, it never exists.
  if (d.pasidsStopped.includes(s.pasid)) return null;
  const r: PageRequest = { id: newId(tx.world), device: d.name, pasid: s.pasid, addr: s.addr, write: s.write === true, state: initialState('page_request'), response: null };
  tx.world.pageRequests.push(r);
  tx.emit('page_request', { device: d.name, pasid: s.pasid, addr: hex(s.addr), write: r.write });
  return r;
}

/**
 * The iopf workqueue's handler for a queued request (iommu_sva_handle_iopf), then its response.
 * A request answered meanwhile (the attachment went: auto-response INVALID) is left alone.
 */
export function handleFault(tx: Tx, id: number): Outcome {
  const r = tx.world.pageRequests.find((x) => x.id === id);
  if (r === undefined || r.state !== 'pending') return { ret: 0n, out: { response: 'INVALID' }, decidedBy: 'io-pgfault.c: the request was answered INVALID when its attachment went' };
  const code = handleIopf(tx, deviceOf(tx.world, r.device), r.pasid, r.addr, r.write);
  respond(tx, r, code.code);
  tx.world.pageRequests = tx.world.pageRequests.filter((x) => x.state === 'pending');
  return { ret: 0n, out: { response: code.code }, decidedBy: code.why };
}

function handleIopf(tx: Tx, d: Device, pasid: number, addr: bigint, write: boolean): { code: 'SUCCESS' | 'INVALID'; why: string } {
  // The SVA domain stays attached until unbind, also after the mm's release cleared it.
  const bond = tx.world.bonds.find((b) => b.device === d.name && b.pasid === pasid && b.state !== 'unbound');
  if (bond === undefined) return { code: 'INVALID', why: 'io-pgfault.c:iommu_handle_iopf: no domain attached for the PASID' };
  const mm = mmOf(tx.world, bond.mm);
  if (mm.state !== 'live') return { code: 'INVALID', why: 'iommu-sva.c:iommu_sva_handle_iopf: !mmget_not_zero (the process is exiting)' };
  const vma = vmaAt(mm, addr);
  if (vma === undefined) return { code: 'INVALID', why: 'iommu-sva.c:iommu_sva_handle_iopf: no vma' };
  if ((write && !vma.prot.write) || (!write && !vma.prot.read)) return { code: 'INVALID', why: 'iommu-sva.c:iommu_sva_handle_iopf: access exceeds the vma' };
  if (vma.kind === 'anon' && vma.phys === null) backAnon(tx, vma);
  return { code: 'SUCCESS', why: 'iommu-sva.c:iommu_sva_handle_iopf: handle_mm_fault' };
}

/** The `device.stop_pasid` stimulus: the device stops using a PASID and drains its requests. */
export function stopPasid(tx: Tx, s: StimulusOf<'device.stop_pasid'>): Outcome {
  const d = deviceOf(tx.world, s.device);
  d.pasidsInUse = d.pasidsInUse.filter((p) => p !== s.pasid);
  if (!d.pasidsStopped.includes(s.pasid)) d.pasidsStopped.push(s.pasid);
  tx.emit('device.pasid_stopped', { device: d.name, pasid: s.pasid });
  return { ret: 0n, decidedBy: 'PCIe PASID stop: the device drained its outstanding requests' };
}

/** device.dma with a PASID: translated through the bound mm's page tables (no fault handling). */
export function svaDma(tx: Tx, d: Device, pasid: number, addr: bigint, length: bigint, write: boolean): Outcome {
  const bond = tx.world.bonds.find((b) => b.device === d.name && b.pasid === pasid && b.state === 'bound');
  if (bond === undefined) return { dma: 'fault', decidedBy: 'IOMMU: no translation for the PASID (unbound or released)' };
  const mm = mmOf(tx.world, bond.mm);
  let va = addr;
  const end = addr + length;
  while (va < end) {
    const vma = vmaAt(mm, va);
    if (vma === undefined || vma.kind !== 'anon' || vma.phys === null || (write && !vma.prot.write)) {
      tx.emit('iommu.fault', { device: d.name, pasid, iova: hex(va), reason: 'not present' });
      return { dma: 'fault', decidedBy: `IOMMU: no present PTE at ${hex(va)} in the PASID's page tables` };
    }
    const chunkEnd = vma.end < end ? vma.end : end;
    tx.touched.landings.push({ kind: 'sva', phys: vma.phys + (va - vma.start), size: chunkEnd - va, pasid, mm: mm.id });
    va = chunkEnd;
  }
  tx.emit('dma.translated', { device: d.name, pasid, iova: hex(addr), length: hex(length), write });
  return { dma: 'ok', decidedBy: 'IOMMU: translated through the PASID table to the mm' };
}

/** iommu_sva_bind_device runs under iommu_sva_lock; the SVA domain registers an MMU notifier. */
export function bindLocks(w: World, s: StimulusOf<'sva.bind'>): LockUse[] {
  const p = w.processes.get(s.pid);
  return [writeLock(lockOf.sva), ...(p === undefined || w.mms.get(p.mm)?.state !== 'live' ? [] : [writeLock(lockOf.mmap(p.mm))])];
}

/**
 * An SVA bond's invalidate callback: the IOMMU flushes the device TLB for the PASID
 * (arm_smmu_mm_arch_invalidate_secondary_tlbs, intel_invalidate_range); no sleeping lock.
 */
export const SVA_NOTIFIER_OPS: NotifierOps<Extract<Subscriber, { kind: 'sva' }>> = {
  locks: () => [],
  invalidate(tx, _task, sub, mm, start, end) {
    tx.emit('mmu_notifier.invalidate', { mm, device: sub.device, start: hex(start), end: hex(end) });
  },
};
