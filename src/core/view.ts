/**
 * A readable view of the world (`replay --at`): per container its mappings, per process its
 * vmas and locked_vm, per device its state. Plain JSON, printed as text or --json by the CLI.
 */
import type { JsonValue } from '../vocab/records.js';
import { hex } from '../log/u64.js';
import type { World } from './world.js';

export function describeWorld(w: World): { [k: string]: JsonValue } {
  const containers = [...w.containers.values()].map((c) => ({
    id: c.id,
    state: c.state,
    groups: c.groups,
    driver: c.type1 === null ? (c.noiommu ? 'noiommu' : null) : c.type1.v2 ? 'type1v2' : 'type1',
    dma_avail: c.type1?.dmaAvail ?? null,
    domain: c.type1?.domain?.id ?? null,
    mappings: (c.type1?.dmas.valuesArray() ?? []).map((d) => ({
      iova: hex(d.iova),
      size: hex(d.size),
      vaddr: hex(d.vaddr),
      prot: [d.prot.read ? 'READ' : null, d.prot.write ? 'WRITE' : null].filter((x): x is string => x !== null),
      state: d.state,
      task: d.task,
      locked_vm: d.lockedVm,
      targets: d.extents.map((e) => (e.kind === 'ram' ? `ram@${hex(e.phys)}+${hex(e.size)}` : `${e.device}/bar${e.bar}@${hex(e.phys)}+${hex(e.size)}`)),
      pfn_list: d.pfnList.size,
    })),
  }));
  const processes = [...w.processes.values()].map((p) => {
    const mm = w.mms.get(p.mm)!;
    return {
      pid: p.pid,
      state: p.state,
      mm: { id: mm.id, state: mm.state, locked_vm: mm.lockedVm, users: mm.users, count: mm.count, pasid: mm.pasid },
      fds: [...p.fds.entries()].filter(([fd]) => fd > 2).map(([fd, id]) => {
        const f = w.files.get(id);
        return `${fd}: ${f === undefined ? '?' : f.kind === 'container' ? `container#${f.container}` : f.kind === 'group' ? `group ${f.group}` : `device ${f.device}`}`;
      }),
      vmas: mm.vmas.map((v) => ({ start: hex(v.start), end: hex(v.end), kind: v.kind, ...(v.kind === 'bar' ? { device: v.device!, bar: v.bar!, state: v.state! } : { backed: v.phys !== null }) })),
    };
  });
  const devices = [...w.devices.values()].map((d) => ({
    device: d.name,
    group: d.group,
    state: d.state,
    open_count: d.openCount,
    memory: d.memoryEnabled,
    ...(d.mdev ? {} : { bus_master: d.busMaster }),
    ...(d.mdev ? { vendor_pins: d.vendorPins.size } : {}),
    ...(d.pasidsInUse.length > 0 ? { pasids_in_use: d.pasidsInUse } : {}),
  }));
  const groups = [...w.groups.values()].map((g) => ({ group: g.key, state: g.state, container: g.container, container_users: g.containerUsers }));
  const pasids = [...w.pasids.entries()].map(([pasid, e]) => ({ pasid, state: e.state, mm: e.mm }));
  return { containers, processes, devices, groups, pasids, pending_page_requests: w.pageRequests.filter((r) => r.state === 'pending').length };
}
