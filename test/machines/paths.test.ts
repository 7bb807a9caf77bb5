/**
 * Model-based tests of every kernel-path machine (machines/paths/), from xstate's graph utilities.
 *
 * As in graph.test.ts, each machine is explored once into plain data (the states its shortest
 * paths reach, its simple paths, every accepted transition replayed with `transition()`). On top
 * of that, each declared state is resolved on its own and searched for a way to `done`, so a
 * path that could get stuck is found by construction. The per-machine tests state, from each
 * file's header comment, the order the kernel path takes its steps in. An ignored event is not
 * a transition: edges are kept only when `getTransitionData` is non-empty.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { e, explore, into, itExploresEveryMachine, outOf, unregisteredMachines, type Edge, type Exploration, type Path } from './graph-helpers.js';
import type { AnyStateMachine } from 'xstate';
import { PATH_MACHINES } from '../../machines/paths/index.js';
import type { PathMachineName } from '../../machines/paths/index.js';
import type { AtomicEvent } from '../../machines/paths/atomic.machine.js';
import type { ExitEvent } from '../../machines/paths/exit.machine.js';
import type { InvalidateRangeEvent } from '../../machines/paths/invalidate-range.machine.js';
import type { MapDmaEvent } from '../../machines/paths/map-dma.machine.js';
import type { PageRequestPathEvent } from '../../machines/paths/page-request.machine.js';
import type { SvaUnbindEvent } from '../../machines/paths/sva-unbind.machine.js';
import type { UnbindEvent } from '../../machines/paths/unbind.machine.js';
import type { UnmapDmaEvent } from '../../machines/paths/unmap-dma.machine.js';
import type { ZapEvent } from '../../machines/paths/zap.machine.js';

/** Every event of each machine's event union; a test below checks none is left out. */
const EXPLORED: Record<PathMachineName, Exploration> = {
  atomic: explore(PATH_MACHINES.atomic, e<AtomicEvent['type']>('DONE')),
  map_dma: explore(
    PATH_MACHINES.map_dma,
    e<MapDmaEvent['type']>(
      'VALID',
      'LINKED',
      'REGISTER',
      'REGISTERED',
      'PINNED',
      'FAILED',
      'ACCOUNTED',
      'INSERT',
      'BEGIN',
      'FAULT',
      'PROGRAM',
      'RETRY',
      'RETURN',
    ),
  ),
  invalidate_range: explore(
    PATH_MACHINES.invalidate_range,
    e<InvalidateRangeEvent['type']>('CALLBACK', 'NEXT', 'END', 'RETURN'),
  ),
  exit: explore(
    PATH_MACHINES.exit,
    e<ExitEvent['type']>('START', 'RELEASE', 'NEXT', 'UNMAP', 'FILES', 'RETURN'),
  ),
  unbind: explore(PATH_MACHINES.unbind, e<UnbindEvent['type']>('WAIT', 'RETURN')),
  unmap_dma: explore(
    PATH_MACHINES.unmap_dma,
    e<UnmapDmaEvent['type']>('VALID', 'NOTIFY', 'CALLBACKS', 'RELOCK', 'RETURN'),
  ),
  page_request_path: explore(
    PATH_MACHINES.page_request_path,
    e<PageRequestPathEvent['type']>('QUEUED', 'RETURN'),
  ),
  sva_unbind: explore(PATH_MACHINES.sva_unbind, e<SvaUnbindEvent['type']>('DRAIN', 'RETURN')),
  zap: explore(PATH_MACHINES.zap, e<ZapEvent['type']>('CALLBACK', 'NEXT', 'END', 'RETURN')),
};

const names = Object.keys(EXPLORED).sort() as PathMachineName[];

/** Compact "from -EVENT-> to" form, so a failure shows the offending transition. */
function show(edges: readonly Edge[]): string[] {
  return edges.map((d) => `${d.from} -${d.event}-> ${d.to}`).sort();
}

/** The states a path visits, its start included. */
function visits(x: Exploration, path: Path): string[] {
  return [x.initial, ...path.edges.map((d) => d.to)];
}

/**
 * The states reachable from `from` over the accepted transitions without entering `avoid`.
 * A target missing from the result cannot be reached, on any path with or without loops,
 * without passing through `avoid`.
 */
function reachableAvoiding(x: Exploration, from: string, avoid: string): Set<string> {
  const seen = new Set<string>([from]);
  const queue = [from];
  for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
    for (const d of outOf(x, s)) {
      if (d.to === avoid || seen.has(d.to)) continue;
      seen.add(d.to);
      queue.push(d.to);
    }
  }
  return seen;
}

/** The simple paths to `target`; throws when there is none, so an order check cannot pass vacuously. */
function simplePathsTo(x: Exploration, target: string): Path[] {
  const paths = x.simple.filter((p) => p.to === target);
  if (paths.length === 0) throw new Error(`no simple path reaches ${target}`);
  return paths;
}

/** True when `seq` visits the states of `order` in that order (others may come between). */
function visitsInOrder(seq: readonly string[], order: readonly string[]): boolean {
  let at = -1;
  for (const s of order) {
    const i = seq.indexOf(s, at + 1);
    if (i < 0) return false;
    at = i;
  }
  return true;
}

describe('every path machine', () => {
  itExploresEveryMachine(names, EXPLORED);

  it.each(names)('%s: can reach done from every state it declares, so no path gets stuck', (name) => {
    const x = EXPLORED[name];
    expect(x.declaredStates).toContain('done');
    const stuck = x.declaredStates.filter((s) => !(x.reachableFrom[s] ?? []).includes('done'));
    expect(stuck).toEqual([]);
  });

  it.each(names)('%s: has done as its only final state, which accepts nothing', (name) => {
    const x = EXPLORED[name];
    const machine: AnyStateMachine = PATH_MACHINES[name];
    const finals = x.declaredStates.filter((s) => machine.root.states[s]?.type === 'final');
    expect(finals).toEqual(['done']);
    expect(outOf(x, 'done')).toEqual([]);
    for (const s of x.declaredStates.filter((s) => s !== 'done')) {
      expect(outOf(x, s).length, `${s} accepts no event`).toBeGreaterThan(0);
    }
  });

  it('every machine this file explores is in PATH_MACHINES, and the reverse', () => {
    expect(names).toEqual(Object.keys(PATH_MACHINES).sort());
  });
});

describe('PATH_MACHINES', () => {
  it('holds the machine exported by every machines/paths/*.machine.ts file', async () => {
    const r = await unregisteredMachines(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'machines', 'paths'), PATH_MACHINES);
    expect(r.files).toBeGreaterThan(0);
    expect(r.empty, 'files that export no machine').toEqual([]);
    expect(r.missing).toEqual([]);
    expect(r.exported).toBe(r.files);
  });
});

describe('atomic (one-step entry points)', () => {
  const x = EXPLORED.atomic;

  it('runs the entry point in one step from run to done', () => {
    expect(show(x.edges)).toEqual(['run -DONE-> done']);
  });
});

describe('map_dma (drivers/vfio/vfio_iommu_type1.c vfio_dma_do_map)', () => {
  const x = EXPLORED.map_dma;

  it('never reaches map without passing pin and then account, on any path', () => {
    expect(reachableAvoiding(x, x.initial, 'pin').has('map')).toBe(false);
    expect(reachableAvoiding(x, x.initial, 'account').has('map')).toBe(false);
    for (const p of simplePathsTo(x, 'map')) {
      expect(visitsInOrder(visits(x, p), ['validate', 'lock', 'pin', 'account', 'map'])).toBe(true);
    }
  });

  it('charges the pins (account) only after pinning, and maps only after charging', () => {
    expect(show(into(x, 'account'))).toEqual(['pin -PINNED-> account']);
    expect(show(into(x, 'map'))).toEqual(['account -ACCOUNTED-> map']);
  });

  it('pins only once iommu->lock is held and the dma linked, registering the notifier first when the scheme has one', () => {
    expect(show(into(x, 'pin'))).toEqual(['lock -LINKED-> pin', 'register -REGISTERED-> pin']);
    expect(show(into(x, 'register'))).toEqual(['lock -REGISTER-> register']);
    expect(show(outOf(x, 'register'))).toEqual(['register -REGISTERED-> pin']);
    expect(show(into(x, 'lock'))).toEqual(['validate -VALID-> lock']);
  });

  it('in the pinless branch, reaches program only after insert, begin and fault, in that order', () => {
    for (const gate of ['insert', 'begin', 'fault']) {
      expect(reachableAvoiding(x, x.initial, gate).has('program'), gate).toBe(false);
    }
    expect(show(into(x, 'program'))).toEqual(['fault -PROGRAM-> program']);
    expect(show(into(x, 'fault'))).toEqual(['begin -FAULT-> fault']);
    expect(show(into(x, 'insert'))).toEqual(['lock -INSERT-> insert']);
    for (const p of simplePathsTo(x, 'program')) {
      expect(visitsInOrder(visits(x, p), ['lock', 'insert', 'begin', 'fault', 'program'])).toBe(true);
    }
  });

  it('goes back from program to begin when mmu_interval_read_retry says an invalidation ran (RETRY)', () => {
    expect(show(outOf(x, 'program'))).toEqual(['program -RETRY-> begin', 'program -RETURN-> done']);
    expect(show(into(x, 'begin'))).toEqual(['insert -BEGIN-> begin', 'program -RETRY-> begin']);
  });

  it('keeps the pinned and the pinless branches apart: neither reaches the other', () => {
    const fromInsert = reachableAvoiding(x, 'insert', 'done');
    const fromPin = reachableAvoiding(x, 'pin', 'done');
    for (const s of ['register', 'pin', 'account', 'map']) expect(fromInsert.has(s), s).toBe(false);
    for (const s of ['insert', 'begin', 'fault', 'program']) expect(fromPin.has(s), s).toBe(false);
  });

  it('reaches unwind only from pin, fault or (a revoked dma-buf) map, by FAILED, and unwinds straight to done', () => {
    expect(show(into(x, 'unwind'))).toEqual(['fault -FAILED-> unwind', 'map -FAILED-> unwind', 'pin -FAILED-> unwind']);
    expect(show(outOf(x, 'unwind'))).toEqual(['unwind -RETURN-> done']);
  });

  it('returns early only before the dma is linked, or after map, program or unwind', () => {
    expect(into(x, 'done').map((d) => d.from).sort()).toEqual([
      'lock',
      'map',
      'program',
      'unwind',
      'validate',
    ]);
  });
});

describe('unmap_dma (drivers/vfio/vfio_iommu_type1.c vfio_dma_do_unmap)', () => {
  const x = EXPLORED.unmap_dma;

  it('reaches callback only from notify (device_list_lock taken, iommu->lock dropped)', () => {
    expect(show(into(x, 'callback'))).toEqual(['notify -CALLBACKS-> callback']);
    expect(show(into(x, 'notify'))).toEqual(['lock -NOTIFY-> notify']);
    expect(reachableAvoiding(x, x.initial, 'notify').has('callback')).toBe(false);
  });

  it('goes back from callback to lock and walks again (goto again), never straight to done', () => {
    expect(show(outOf(x, 'callback'))).toEqual(['callback -RELOCK-> lock']);
    expect(reachableAvoiding(x, 'callback', 'lock').has('done')).toBe(false);
  });

  it('takes iommu->lock only after validation, and returns only from validate or lock', () => {
    expect(into(x, 'lock').map((d) => d.from).sort()).toEqual(['callback', 'validate']);
    expect(into(x, 'done').map((d) => d.from).sort()).toEqual(['lock', 'validate']);
  });
});

describe('invalidate_range (mm/mmu_notifier.c: munmap, reclaim, OOM reaper)', () => {
  const x = EXPLORED.invalidate_range;

  it('runs the subscribers one at a time: callback loops on NEXT', () => {
    expect(show(outOf(x, 'callback'))).toEqual(['callback -END-> leave', 'callback -NEXT-> callback']);
  });

  it('ends in leave before done whenever any callback ran', () => {
    expect(reachableAvoiding(x, 'callback', 'leave').has('done')).toBe(false);
    for (const p of simplePathsTo(x, 'done')) {
      const seq = visits(x, p);
      if (seq.includes('callback')) expect(seq.slice(-2)).toEqual(['leave', 'done']);
    }
    expect(
      simplePathsTo(x, 'done').some((p) => visits(x, p).includes('callback')),
    ).toBe(true);
  });

  // the OOM reaper invalidates one range per reapable vma (mm/oom_kill.c:__oom_reap_task_mm):
  // leave ends one vma's range and begins the next one's, into its callbacks or straight to leave
  it('enters callback from enter or from the previous vma\'s leave, and leaves only into leave', () => {
    expect(show(into(x, 'callback'))).toEqual(['enter -CALLBACK-> callback', 'leave -CALLBACK-> callback']);
    expect(into(x, 'leave').map((d) => d.from).sort()).toEqual(['callback', 'enter']);
    expect(show(outOf(x, 'leave'))).toEqual(['leave -CALLBACK-> callback', 'leave -END-> leave', 'leave -RETURN-> done']);
  });
});

describe('zap (vfio_pci_config.c vfio_basic_config_write, vfio_pci_core.c vfio_pci_ioctl_reset)', () => {
  const x = EXPLORED.zap;

  it('returns from enter when the write zaps nothing, and otherwise only through leave', () => {
    expect(show(outOf(x, 'enter'))).toEqual(['enter -CALLBACK-> callback', 'enter -END-> leave', 'enter -RETURN-> done']);
    expect(into(x, 'done').map((d) => d.from).sort()).toEqual(['enter', 'leave']);
  });

  it('runs the subscribers of the zapped mappings one at a time', () => {
    expect(show(outOf(x, 'callback'))).toEqual(['callback -END-> leave', 'callback -NEXT-> callback']);
  });
});

describe('exit (kernel/exit.c do_exit)', () => {
  const x = EXPLORED.exit;

  it('reaches mm only after wait: the exit waits for the syscalls in flight', () => {
    expect(show(into(x, 'mm'))).toEqual(['wait -START-> mm']);
    expect(show(outOf(x, 'wait'))).toEqual(['wait -START-> mm']);
  });

  it('reaches files only after mm, directly or through release and unmap', () => {
    expect(reachableAvoiding(x, x.initial, 'mm').has('files')).toBe(false);
    expect(show(into(x, 'files'))).toEqual(['mm -FILES-> files', 'unmap -FILES-> files']);
    expect(show(into(x, 'unmap'))).toEqual(['mm -UNMAP-> unmap', 'release -UNMAP-> unmap']);
    expect(show(into(x, 'release'))).toEqual(['mm -RELEASE-> release']);
    for (const p of simplePathsTo(x, 'files')) {
      expect(visitsInOrder(visits(x, p), ['wait', 'mm', 'files'])).toBe(true);
    }
  });

  it('runs the notifiers release one at a time inside exit_mmap, then unmaps: release loops on NEXT', () => {
    expect(show(outOf(x, 'release'))).toEqual(['release -NEXT-> release', 'release -UNMAP-> unmap']);
  });

  it('becomes a zombie (done) only after its files are closed', () => {
    expect(show(into(x, 'done'))).toEqual(['files -RETURN-> done']);
    expect(reachableAvoiding(x, x.initial, 'files').has('done')).toBe(false);
  });
});

describe('unbind (drivers/vfio/vfio_main.c vfio_unregister_group_dev)', () => {
  const x = EXPLORED.unbind;

  it('reaches remove only after put: the registration reference goes first', () => {
    expect(show(into(x, 'remove'))).toEqual(['put -WAIT-> remove']);
  });

  it('returns only after remove', () => {
    expect(show(into(x, 'done'))).toEqual(['remove -RETURN-> done']);
    expect(reachableAvoiding(x, x.initial, 'remove').has('done')).toBe(false);
  });
});

describe('sva_unbind (drivers/iommu/iommu-sva.c iommu_sva_unbind_device)', () => {
  const x = EXPLORED.sva_unbind;

  it('reaches drain only after lock (iommu_sva_lock held)', () => {
    expect(x.initial).toBe('lock');
    expect(show(into(x, 'drain'))).toEqual(['lock -DRAIN-> drain']);
  });

  it('returns after drain, or straight from lock when it was not the last reference', () => {
    expect(show(into(x, 'done'))).toEqual(['drain -RETURN-> done', 'lock -RETURN-> done']);
    expect(show(outOf(x, 'drain'))).toEqual(['drain -RETURN-> done']);
  });
});

describe('page_request_path (drivers/iommu/io-pgfault.c)', () => {
  const x = EXPLORED.page_request_path;

  it('reaches handle only after report: a request is queued before its handler runs', () => {
    expect(x.initial).toBe('report');
    expect(show(into(x, 'handle'))).toEqual(['report -QUEUED-> handle']);
  });

  it('is answered (done) only by the handler, unless the device had stopped the PASID and sent nothing', () => {
    expect(show(into(x, 'done'))).toEqual(['handle -RETURN-> done', 'report -RETURN-> done']);
  });
});
