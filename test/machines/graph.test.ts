/**
 * Model-based tests of every object machine, from xstate's graph utilities.
 *
 * Each machine is explored once into plain data: the states its shortest paths reach,
 * its simple paths, and every transition it accepts, each replayed with `transition()` so that the
 * actions it runs are known. The per-machine tests then state, as sentences, the kernel rule each
 * path or transition must show. An ignored event is not a transition: `getAdjacencyMap` records
 * it as a self-loop, so edges are kept only when `getTransitionData` is non-empty.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { e, explore, into, itExploresEveryMachine, outOf, unregisteredMachines, type Edge, type Exploration, type Path } from './graph-helpers.js';
import { initialTransition, transition } from 'xstate';
import { MACHINES } from '../../machines/index.js';
import type { BarMappingEvent } from '../../machines/bar-mapping.machine.js';
import type { ContainerEvent } from '../../machines/container.machine.js';
import type { DeviceEvent } from '../../machines/device.machine.js';
import type { GroupEvent } from '../../machines/group.machine.js';
import type { MmEvent } from '../../machines/mm.machine.js';
import type { PageRequestEvent } from '../../machines/page-request.machine.js';
import type { PasidEvent } from '../../machines/pasid.machine.js';
import type { ProcessEvent } from '../../machines/process.machine.js';
import type { SvaBondEvent } from '../../machines/sva-bond.machine.js';
import type { VfioDmaEvent } from '../../machines/vfio-dma.machine.js';

/** The object machines; path machines (machines/paths/) are out of scope here. */
type ObjectName = keyof typeof MACHINES;

/** Every event of each machine's event union; a test below checks none is left out. */
const EXPLORED: Record<ObjectName, Exploration> = {
  process: explore(MACHINES.process, e<ProcessEvent['type']>('EXIT', 'EXITED')),
  mm: explore(MACHINES.mm, e<MmEvent['type']>('LAST_USER_GONE', 'LAST_REF_DROPPED')),
  container: explore(
    MACHINES.container,
    e<ContainerEvent['type']>(
      'SET_IOMMU_TYPE1',
      'SET_IOMMU_NOIOMMU',
      'LAST_GROUP_DETACHED',
      'LAST_REF_DROPPED',
    ),
  ),
  group: explore(
    MACHINES.group,
    e<GroupEvent['type']>('OPEN', 'SET_CONTAINER', 'UNSET_CONTAINER', 'RELEASE', 'REMOVE'),
  ),
  device: explore(
    MACHINES.device,
    e<DeviceEvent['type']>('OPEN_FIRST', 'CLOSE_LAST', 'UNBIND', 'REMOVE'),
  ),
  vfio_dma: explore(
    MACHINES.vfio_dma,
    e<VfioDmaEvent['type']>('PINNED', 'PIN_FAILED', 'INVALIDATE_VADDR', 'UPDATE_VADDR', 'REMOVE'),
  ),
  bar_mapping: explore(MACHINES.bar_mapping, e<BarMappingEvent['type']>('FAULT', 'ZAP', 'UNMAP')),
  pasid: explore(MACHINES.pasid, e<PasidEvent['type']>('ALLOCATE', 'FREE', 'LEAK')),
  page_request: explore(MACHINES.page_request, e<PageRequestEvent['type']>('RESPOND')),
  sva_bond: explore(MACHINES.sva_bond, e<SvaBondEvent['type']>('MM_RELEASE', 'UNBIND')),
};

const names = Object.keys(EXPLORED).sort() as ObjectName[];

/** Compact "from -EVENT-> to [actions]" form, so a failure shows the offending transition. */
function show(edges: readonly Edge[]): string[] {
  return edges.map((d) => `${d.from} -${d.event}-> ${d.to} [${d.actions.join(',')}]`).sort();
}

function lastEdge(path: Path): Edge {
  const last = path.edges.at(-1);
  if (last === undefined) throw new Error(`path to ${path.to} has no transitions`);
  return last;
}

describe('every machine', () => {
  itExploresEveryMachine(names, EXPLORED);

  it('every machine this file explores is in MACHINES, and the reverse', () => {
    expect(names).toEqual(Object.keys(MACHINES).sort());
  });
});

describe('MACHINES', () => {
  it('holds the machine exported by every machines/*.machine.ts file', async () => {
    const r = await unregisteredMachines(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'machines'), MACHINES);
    expect(r.files).toBeGreaterThan(0);
    expect(r.empty, 'files that export no machine').toEqual([]);
    expect(r.missing).toEqual([]);
    expect(r.exported).toBe(r.files);
  });
});

describe('container (drivers/vfio/container.c)', () => {
  const x = EXPLORED.container;

  it('reaches freed only through LAST_REF_DROPPED, and only with no IOMMU driver set', () => {
    expect(show(into(x, 'freed'))).toEqual(['noDriver -LAST_REF_DROPPED-> freed []']);
    const toFreed = x.simple.filter((p) => p.to === 'freed');
    expect(toFreed.length).toBeGreaterThan(0);
    for (const p of toFreed) expect(lastEdge(p).event).toBe('LAST_REF_DROPPED');
  });

  it('runs releaseIommu on every transition from type1 or noiommu into noDriver', () => {
    const back = into(x, 'noDriver');
    expect(back.map((d) => d.from).sort()).toEqual(['noiommu', 'type1']);
    for (const d of back) expect(d.actions).toContain('releaseIommu');
  });

  it('runs releaseIommu on LAST_GROUP_DETACHED only', () => {
    const releasing = x.edges.filter((d) => d.actions.includes('releaseIommu'));
    expect(show(releasing)).toEqual([
      'noiommu -LAST_GROUP_DETACHED-> noDriver [releaseIommu]',
      'type1 -LAST_GROUP_DETACHED-> noDriver [releaseIommu]',
    ]);
  });

  it('cannot be freed while an IOMMU driver is set', () => {
    expect(outOf(x, 'type1').map((d) => d.event)).toEqual(['LAST_GROUP_DETACHED']);
    expect(outOf(x, 'noiommu').map((d) => d.event)).toEqual(['LAST_GROUP_DETACHED']);
  });

  it('accepts nothing once freed', () => {
    expect(outOf(x, 'freed')).toEqual([]);
  });
});

describe('vfio_dma (drivers/vfio/vfio_iommu_type1.c)', () => {
  const x = EXPLORED.vfio_dma;

  it('reaches removed only with the unmapUnpin action, from every live state', () => {
    const removal = into(x, 'removed');
    expect(removal.map((d) => d.from).sort()).toEqual(['mapped', 'pinning', 'vaddrInvalid']);
    for (const d of removal) expect(d.actions).toEqual(['unmapUnpin']);
  });

  it('runs unmapUnpin exactly once on every simple path to removed and never before it', () => {
    const toRemoved = x.simple.filter((p) => p.to === 'removed');
    expect(toRemoved.length).toBe(3);
    for (const p of toRemoved) {
      const all = p.edges.flatMap((d) => d.actions);
      expect(all).toEqual(['unmapUnpin']);
      expect(lastEdge(p).actions).toEqual(['unmapUnpin']);
    }
  });

  it('runs unmapUnpin on no transition that keeps the dma', () => {
    const others = x.edges.filter((d) => d.to !== 'removed');
    for (const d of others) expect(d.actions).not.toContain('unmapUnpin');
  });

  it('accepts nothing once removed', () => {
    expect(outOf(x, 'removed')).toEqual([]);
  });
});

describe('process (kernel/exit.c)', () => {
  const x = EXPLORED.process;

  it('goes running -> exiting -> exited with no effects of its own (the exit path has the steps)', () => {
    expect(show(x.edges)).toEqual(['exiting -EXITED-> exited []', 'running -EXIT-> exiting []']);
  });

  it('makes no syscall once exiting: nothing leads back to running', () => {
    expect(into(x, 'running')).toEqual([]);
  });

  it('cannot exit twice', () => {
    expect(outOf(x, 'exited')).toEqual([]);
  });
});

describe('mm (kernel/fork.c)', () => {
  const x = EXPLORED.mm;

  it('runs pasidDrop on LAST_REF_DROPPED (__mmdrop -> mm_pasid_drop), and nothing on LAST_USER_GONE (exit_mmap is the exit path)', () => {
    expect(show(x.edges)).toEqual([
      'exited -LAST_REF_DROPPED-> freed [pasidDrop]',
      'live -LAST_USER_GONE-> exited []',
    ]);
  });

  it('reaches freed only through exited: the address space is torn down before __mmdrop', () => {
    expect(into(x, 'freed').map((d) => d.from)).toEqual(['exited']);
    const toFreed = x.simple.filter((p) => p.to === 'freed');
    expect(toFreed.map((p) => p.edges.map((d) => d.to))).toEqual([['exited', 'freed']]);
  });

  it('ignores LAST_REF_DROPPED while mm_users > 0', () => {
    expect(outOf(x, 'live').map((d) => d.event)).toEqual(['LAST_USER_GONE']);
  });
});

describe('group (drivers/vfio/group.c)', () => {
  const x = EXPLORED.group;

  it('runs detachContainer on every transition out of attached', () => {
    const leaving = outOf(x, 'attached').filter((d) => d.to !== 'attached');
    expect(leaving.map((d) => d.event).sort()).toEqual(['RELEASE', 'REMOVE', 'UNSET_CONTAINER']);
    for (const d of leaving) expect(d.actions).toContain('detachContainer');
  });

  it('runs detachContainer only when leaving attached', () => {
    const detaching = x.edges.filter((d) => d.actions.includes('detachContainer'));
    for (const d of detaching) expect(d.from).toBe('attached');
  });

  it('can be attached only from open, by SET_CONTAINER', () => {
    expect(show(into(x, 'attached'))).toEqual(['open -SET_CONTAINER-> attached []']);
  });

  it('in removed, accepts only RELEASE of the still-open file, and stays removed', () => {
    expect(show(outOf(x, 'removed'))).toEqual(['removed -RELEASE-> removed []']);
  });
});

describe('page_request (drivers/iommu/io-pgfault.c)', () => {
  const x = EXPLORED.page_request;
  const machine = MACHINES.page_request;

  it('cannot be answered twice: RESPOND in answered selects no transition', () => {
    const [pending] = initialTransition(machine);
    const [answered] = transition(machine, pending, { type: 'RESPOND' });
    expect(answered.value).toBe('answered');
    expect(machine.getTransitionData(answered, { type: 'RESPOND' })).toEqual([]);
    const [again, actions] = transition(machine, answered, { type: 'RESPOND' });
    expect(again).toBe(answered);
    expect(actions).toEqual([]);
  });

  it('is answered by exactly one RESPOND on every path', () => {
    expect(show(x.edges)).toEqual(['pending -RESPOND-> answered []']);
    const toAnswered = x.simple.filter((p) => p.to === 'answered');
    expect(toAnswered.map((p) => p.edges.map((d) => d.event))).toEqual([['RESPOND']]);
  });
});

describe('device (drivers/vfio/vfio_main.c)', () => {
  const x = EXPLORED.device;

  it('leaves unregistering only by CLOSE_LAST (the last registration reference), into released', () => {
    expect(show(outOf(x, 'unregistering'))).toEqual(['unregistering -CLOSE_LAST-> released []']);
  });

  it('is removed only from released, by the unbinding task, with removeDevice', () => {
    expect(show(into(x, 'removed'))).toEqual(['released -REMOVE-> removed [removeDevice]']);
    expect(show(into(x, 'released'))).toEqual(['closed -UNBIND-> released []', 'unregistering -CLOSE_LAST-> released []']);
  });

  it('cannot be opened again once unregistering', () => {
    expect(into(x, 'open').map((d) => d.from)).toEqual(['closed']);
  });

  it('runs removeDevice once on every simple path to removed', () => {
    const toRemoved = x.simple.filter((p) => p.to === 'removed');
    expect(toRemoved.length).toBe(2);
    for (const p of toRemoved) {
      expect(p.edges.flatMap((d) => d.actions)).toEqual(['removeDevice']);
    }
  });
});

describe('pasid (drivers/iommu/iommu-sva.c)', () => {
  const x = EXPLORED.pasid;

  it('never leaves leaked: a leaked PASID is never reallocated', () => {
    expect(outOf(x, 'leaked')).toEqual([]);
  });

  it('is leaked only from allocated, and returns to free only by FREE', () => {
    expect(show(into(x, 'leaked'))).toEqual(['allocated -LEAK-> leaked []']);
    expect(show(into(x, 'free'))).toEqual(['allocated -FREE-> free []']);
  });
});

describe('bar_mapping (drivers/vfio/pci/vfio_pci_core.c)', () => {
  const x = EXPLORED.bar_mapping;

  it('ZAP always leaves the vma empty and FAULT always leaves it populated', () => {
    for (const d of x.edges.filter((d) => d.event === 'ZAP')) expect(d.to).toBe('empty');
    for (const d of x.edges.filter((d) => d.event === 'FAULT')) expect(d.to).toBe('populated');
    expect(x.edges.filter((d) => d.event === 'ZAP').length).toBe(2);
  });

  it('accepts nothing once the vma is gone', () => {
    expect(outOf(x, 'gone')).toEqual([]);
    expect(into(x, 'gone').map((d) => d.event)).toEqual(['UNMAP', 'UNMAP']);
  });
});

describe('sva_bond (drivers/iommu/iommu-sva.c)', () => {
  const x = EXPLORED.sva_bond;

  it('once cleared by the mm release, can only be unbound, never rebound', () => {
    expect(show(outOf(x, 'cleared'))).toEqual(['cleared -UNBIND-> unbound []']);
    expect(into(x, 'bound')).toEqual([]);
  });

  it('is unbound with or without a prior mm release', () => {
    const toUnbound = x.simple.filter((p) => p.to === 'unbound');
    expect(toUnbound.map((p) => p.edges.map((d) => d.event)).sort()).toEqual([
      ['MM_RELEASE', 'UNBIND'],
      ['UNBIND'],
    ]);
  });
});
