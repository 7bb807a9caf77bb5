/**
 * The timeline's view of one kernel object: plain JSON (hex strings for addresses and sizes, no
 * bigint, no Map), keyed by a stable id named as the derived records name objects
 * (docs/log-format.md, "Derived records": `state` records use `<machine>:<key>`). Pure: reads
 * the live world, never changes it.
 *
 * Ids: device:<name>, group:<n>, container:<id>, vfio_dma:<container>@<iova>,
 * pte:<container>@<iova> (an IOMMU PTE run of the container's domain), file:<id>, process:<pid>,
 * mm:<id>, vma:<mm>@<start> (the vma's mm, as bar_mapping:<mm>@<start> names it), pasid:<n>,
 * sva_bond:<device>/<pasid>, page_request:<id>, task:<name> (with the locks it holds), and
 * lock:<instance id> (a sleeping lock while someone holds it, with its holders).
 */
import type { JsonValue, Prot } from '../../vocab/records.js';
import { hex } from '../../log/u64.js';
import type { Container, Mm, Task, Vma, World } from '../../core/world.js';

export type ObjectView = { readonly [field: string]: JsonValue };
export type Objects = { readonly [id: string]: ObjectView };

const prot = (p: Prot): string[] => [...(p.read ? ['READ'] : []), ...(p.write ? ['WRITE'] : [])];

function container(c: Container): ObjectView {
  const t = c.type1;
  return {
    state: c.state,
    groups: [...c.groups],
    refs: c.refs,
    driver: t === null ? (c.noiommu ? 'noiommu' : null) : t.v2 ? 'type1v2' : 'type1',
    ...(t === null
      ? {}
      : {
          dma_avail: t.dmaAvail,
          domain: t.domain?.id ?? null,
          domain_groups: [...(t.domain?.groups ?? [])],
          iova_ranges: (t.domain?.iovaList ?? []).map(([s, e]) => `${hex(s)}-${hex(e)}`),
          emulated_groups: [...t.emulatedGroups],
          device_list: [...t.deviceList],
          vaddr_invalid: t.vaddrInvalidCount,
        }),
  };
}

function vma(v: Vma): ObjectView {
  return {
    start: hex(v.start),
    end: hex(v.end),
    kind: v.kind,
    prot: prot(v.prot),
    state: v.state,
    phys: v.phys === null ? null : hex(v.phys),
    ...(v.kind === 'bar' ? { device: v.device ?? null, bar: v.bar ?? null, pgoff: hex(v.pgoff ?? 0n), file: v.file ?? null, pages: (v.pages ?? []).map(hex) } : {}),
  };
}

function mm(m: Mm): ObjectView {
  return {
    state: m.state,
    users: m.users,
    count: m.count,
    locked_vm: m.lockedVm,
    pasid: m.pasid,
    sva_notifiers: [...m.svaNotifiers],
    type1_notifiers: [...m.type1Notifiers],
    itree_seq: m.itreeSeq,
    itree_active: m.itreeActive,
    intervals: m.intervals.map((i) => `container ${i.container} dma ${hex(i.dmaIova)}: ${hex(i.start)}-${hex(i.end)} seq ${i.seq}`),
    next_mmap: hex(m.nextMmap),
    reaped: m.reaped,
  };
}

function task(t: Task): ObjectView {
  return {
    queue: t.queue.map((s) => s.seq),
    current: t.current === null ? null : `${t.current.stimulus.seq} ${t.current.stimulus.op}: ${t.current.path}.${t.current.state}`,
    held: t.held.map((h) => `${h.id} (${h.mode})`),
    non_block: t.nonBlock,
    deferred: [...t.deferred],
    stopped: t.stopped === undefined ? null : `${t.stopped.seq}: ${t.stopped.why}`,
  };
}

/** Splits `<kind>:<key>` at the first colon. */
export function kindOf(id: string): { kind: string; key: string } {
  const i = id.indexOf(':');
  return i < 0 ? { kind: id, key: '' } : { kind: id.slice(0, i), key: id.slice(i + 1) };
}

/** `<owner>@<hex address>` (vfio_dma, pte, vma keys). */
function ownerAt(key: string): { owner: number; addr: bigint } | null {
  const m = /^([0-9]+)@(0x[0-9a-f]+)$/.exec(key);
  return m === null ? null : { owner: Number(m[1]), addr: BigInt(m[2]!) };
}

function vmaAt(m: Mm | undefined, start: bigint): Vma | undefined {
  if (m === undefined) return undefined;
  // vmas are sorted by start: binary search
  let lo = 0;
  let hi = m.vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = m.vmas[mid]!;
    if (v.start === start) return v;
    if (v.start < start) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The view of object `id` in the live world; undefined when the world has no such object. */
export function viewOf(w: World, id: string): ObjectView | undefined {
  const { kind, key } = kindOf(id);
  switch (kind) {
    case 'device': {
      const d = w.devices.get(key);
      if (d === undefined) return undefined;
      return {
        state: d.state,
        group: d.group,
        mdev: d.mdev,
        open_count: d.openCount,
        registrations: d.registrations,
        memory: d.memoryEnabled,
        bus_master: d.busMaster,
        pasids_in_use: [...d.pasidsInUse],
        pasids_stopped: [...d.pasidsStopped],
        vendor_pins: [...d.vendorPins.entries()].map(([iova, n]) => `${hex(iova)} x${n}`),
        linked: d.linked.map((l) => `container ${l.container} iova ${hex(l.iova)}`),
        revoked: d.revoked,
        pm_runtime: d.pmRuntimeEngaged,
      };
    }
    case 'group': {
      const g = w.groups.get(key);
      if (g === undefined) return undefined;
      return { state: g.state, devices: [...g.devices], file: g.file, container: g.container, container_users: g.containerUsers, iommu_group: g.iommuGroupPresent };
    }
    case 'container': {
      const c = w.containers.get(Number(key));
      return c === undefined ? undefined : container(c);
    }
    case 'vfio_dma': {
      const k = ownerAt(key);
      const d = k === null ? undefined : w.containers.get(k.owner)?.type1?.dmas.get(k.addr);
      if (d === undefined) return undefined;
      return {
        iova: hex(d.iova),
        size: hex(d.size),
        vaddr: hex(d.vaddr),
        prot: prot(d.prot),
        state: d.state,
        task: d.task,
        mm: d.mm,
        lock_cap: d.lockCap,
        locked_vm: d.lockedVm,
        vaddr_invalid: d.vaddrInvalid,
        iommu_mapped: d.iommuMapped,
        extents: d.extents.map((e) => `${hex(e.iova)}+${hex(e.size)} -> ${e.kind === 'ram' ? 'ram' : `${e.device}/bar${e.bar}`}@${hex(e.phys)}`),
        pfn_list: [...d.pfnList.entries()].map(([iova, p]) => `${hex(iova)} -> ${hex(p.phys)} x${p.refs}`),
      };
    }
    case 'pte': {
      const k = ownerAt(key);
      const p = k === null ? undefined : w.containers.get(k.owner)?.type1?.domain?.ptes.get(k.addr);
      return p === undefined ? undefined : { iova: hex(p.iova), size: hex(p.size), phys: hex(p.phys), dma: p.dma };
    }
    case 'file': {
      const f = w.files.get(Number(key));
      if (f === undefined) return undefined;
      return { kind: f.kind, refs: f.refs, ...(f.container === undefined ? {} : { container: f.container }), ...(f.group === undefined ? {} : { group: f.group }), ...(f.device === undefined ? {} : { device: f.device }) };
    }
    case 'process': {
      const p = w.processes.get(Number(key));
      if (p === undefined) return undefined;
      const fds: { [fd: string]: JsonValue } = {};
      for (const [fd, f] of p.fds) fds[String(fd)] = f;
      return { state: p.state, mm: p.mm, fds, rlimit_memlock: hex(p.rlimitMemlock), cap_ipc_lock: p.capIpcLock, cap_sys_rawio: p.capSysRawio };
    }
    case 'mm': {
      const m = w.mms.get(Number(key));
      return m === undefined ? undefined : mm(m);
    }
    case 'vma': {
      const k = ownerAt(key);
      const v = k === null ? undefined : vmaAt(w.mms.get(k.owner), k.addr);
      return v === undefined ? undefined : vma(v);
    }
    case 'pasid': {
      const e = w.pasids.get(Number(key));
      return e === undefined ? undefined : { state: e.state, mm: e.mm };
    }
    case 'sva_bond': {
      const b = w.bonds.find((x) => `${x.device}/${x.pasid}` === key);
      return b === undefined ? undefined : { device: b.device, pid: b.pid, mm: b.mm, pasid: b.pasid, users: b.users, via_vfio: b.viaVfio === true, state: b.state };
    }
    case 'page_request': {
      const r = w.pageRequests.find((x) => String(x.id) === key);
      return r === undefined ? undefined : { device: r.device, pasid: r.pasid, addr: hex(r.addr), write: r.write, state: r.state, response: r.response };
    }
    case 'task': {
      const t = w.tasks.get(key);
      return t === undefined ? undefined : task(t);
    }
    case 'lock': {
      const l = w.locks.get(key);
      if (l === undefined || (l.writer === null && l.readers.length === 0)) return undefined;
      return { kind: l.kind, writer: l.writer, readers: [...l.readers] };
    }
    default:
      return undefined;
  }
}

/** Every object id the world holds now. */
export function objectIds(w: World): string[] {
  const ids: string[] = [];
  for (const d of w.devices.keys()) ids.push(`device:${d}`);
  for (const g of w.groups.keys()) ids.push(`group:${g}`);
  for (const c of w.containers.values()) {
    ids.push(`container:${c.id}`);
    for (const d of c.type1?.dmas.valuesArray() ?? []) ids.push(`vfio_dma:${c.id}@${hex(d.iova)}`);
    for (const p of c.type1?.domain?.ptes.valuesArray() ?? []) ids.push(`pte:${c.id}@${hex(p.iova)}`);
  }
  for (const f of w.files.keys()) ids.push(`file:${f}`);
  for (const p of w.processes.keys()) ids.push(`process:${p}`);
  for (const m of w.mms.values()) {
    ids.push(`mm:${m.id}`);
    for (const v of m.vmas) ids.push(`vma:${m.id}@${hex(v.start)}`);
  }
  for (const p of w.pasids.keys()) ids.push(`pasid:${p}`);
  for (const b of w.bonds) ids.push(`sva_bond:${b.device}/${b.pasid}`);
  for (const r of w.pageRequests) ids.push(`page_request:${r.id}`);
  for (const t of w.tasks.keys()) ids.push(`task:${t}`);
  for (const [l, s] of w.locks) if (s.writer !== null || s.readers.length > 0) ids.push(`lock:${l}`);
  return ids;
}

/** The whole view, recomputed from the world (what the incremental view must equal). */
export function fullView(w: World): Objects {
  const o: { [id: string]: ObjectView } = {};
  for (const id of objectIds(w)) o[id] = viewOf(w, id)!;
  return o;
}
