/**
 * `gen --cover paths`: a log for every state of every path machine (machines/paths/). The
 * stimulus whose path it is runs on a task, one step record per atomic step, so the log itself
 * shows the states it passes (`replay --trace` prints each step as `<path>.<state>`); a state
 * counts as covered when a step of that task ran in it, or, for the final state, when its path
 * returned. The states of a scheme's design (the type1 MMU notifier's `register`, the interval
 * notifier's `insert` ... `program`) run under that scheme.
 */
import { PATH_CONFIGS, type PathMachineName } from '../../../machines/paths/index.js';
import { PATHS, type PathName } from '../../paths/index.js';
import { hex } from '../../log/u64.js';
import type { GenRecord } from './builder.js';
import { buildAll, type Coverage, type Recipe, type Target } from './coverage.js';
import { ANON, ANON_SIZE, BAR_MAP_SIZE, IOVA, MDEV, PID, Rig, type RigOptions } from './rig.js';

/** The task the path under test runs on. */
const TASK = 'path';

/** A stimulus whose path the log runs: the set-up it needs, then the record itself. */
interface PathRun {
  readonly rig?: RigOptions;
  /** Writes the set-up (untasked records) and returns the stimulus to run on the task. */
  readonly setUp: (rig: Rig) => GenRecord;
}

const NOTIFIER = 'bar-notifier-naive';
const INTERVAL = 'bar-interval-notifier';

const RUNS = {
  open: { setUp: (rig) => (rig.spawn(), { op: 'open', pid: PID, path: '/dev/vfio/vfio' }) },
  map: { setUp: (rig) => mapRecord(rig) },
  mapFault: { setUp: (rig) => mapRecord(rig, ANON + ANON_SIZE * 16n) },
  mapNotifier: { rig: { scheme: NOTIFIER }, setUp: (rig) => mapRecord(rig) },
  mapInterval: { rig: { scheme: INTERVAL }, setUp: (rig) => mapRecord(rig, rig.barMmap(), BAR_MAP_SIZE) },
  unmap: { setUp: (rig) => (rig.map(), unmapRecord(rig)) },
  // an mdev's pins make UNMAP_DMA call its dma_unmap (vfio_notify_dma_unmap)
  unmapNotify: {
    rig: { mdev: true },
    setUp: (rig) => {
      rig.map();
      rig.deviceFd();
      rig.push({ op: 'mdev.pin_pages', device: MDEV, iova: hex(IOVA), npage: 1 });
      return unmapRecord(rig);
    },
  },
  // an SVA bond subscribes to the mm's MMU notifier: one callback
  munmap: { rig: { sva: true }, setUp: (rig) => (rig.svaBind(), { op: 'munmap', pid: PID, addr: hex(ANON), length: hex(ANON_SIZE) }) },
  // a type1 notifier's release runs in exit_mmap's mmu_notifier_release
  exit: { rig: { scheme: NOTIFIER }, setUp: (rig) => (rig.map(), { op: 'exit', pid: PID }) },
  pageRequest: { rig: { sva: true }, setUp: (rig) => (rig.svaBind(), { op: 'device.page_request', device: rig.deviceName, pasid: 1, addr: hex(ANON) }) },
  svaUnbind: {
    rig: { sva: true },
    setUp: (rig) => {
      rig.svaBind();
      rig.push({ op: 'device.stop_pasid', device: rig.deviceName, pasid: 1 });
      return { op: 'sva.unbind', device: rig.deviceName, pid: PID };
    },
  },
  unbind: { setUp: (rig) => (rig.declare(), { op: 'device.unbind', device: rig.deviceName }) },
  // a populated BAR vma in an mm with an SVA bond: clearing decode zaps it, one callback
  zap: {
    rig: { sva: true },
    setUp: (rig) => {
      rig.svaBind();
      rig.push({ op: 'touch', pid: PID, addr: hex(rig.barMmap()) });
      return { op: 'pci.command', pid: PID, fd: rig.deviceFd(), memory: false };
    },
  },
} satisfies Record<string, PathRun>;

type RunName = keyof typeof RUNS;

function mapRecord(rig: Rig, vaddr: bigint = rig.anon(), size: bigint = ANON_SIZE): GenRecord {
  return { op: 'ioctl', pid: PID, fd: rig.iommu(), cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(vaddr), iova: hex(IOVA), size: hex(size) } };
}

function unmapRecord(rig: Rig): GenRecord {
  return { op: 'ioctl', pid: PID, fd: rig.iommu(), cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: hex(IOVA), size: hex(ANON_SIZE) } };
}

/** For each path machine state, the run that reaches it (the simplest one that does). */
const RUN_FOR: { readonly [M in PathMachineName]: { readonly [S in keyof (typeof PATH_CONFIGS)[M]['states']]: RunName } } = {
  atomic: { run: 'open', done: 'open' },
  map_dma: {
    validate: 'map', lock: 'map', pin: 'map', account: 'map', map: 'map', done: 'map',
    unwind: 'mapFault', register: 'mapNotifier',
    insert: 'mapInterval', begin: 'mapInterval', fault: 'mapInterval', program: 'mapInterval',
  },
  invalidate_range: { enter: 'munmap', callback: 'munmap', leave: 'munmap', done: 'munmap' },
  exit: { wait: 'exit', mm: 'exit', release: 'exit', unmap: 'exit', files: 'exit', done: 'exit' },
  unbind: { put: 'unbind', remove: 'unbind', done: 'unbind' },
  unmap_dma: { validate: 'unmap', lock: 'unmap', done: 'unmap', notify: 'unmapNotify', callback: 'unmapNotify' },
  page_request_path: { report: 'pageRequest', handle: 'pageRequest', done: 'pageRequest' },
  sva_unbind: { lock: 'svaUnbind', drain: 'svaUnbind', done: 'svaUnbind' },
  zap: { enter: 'zap', callback: 'zap', leave: 'zap', done: 'zap' },
};

/** Every path machine state, as `<machine>.<state>`, in the machines' declaration order. */
export function allPathStates(): string[] {
  return (Object.keys(PATH_CONFIGS) as PathMachineName[]).flatMap((m) => Object.keys(PATH_CONFIGS[m].states).map((s) => `${m}.${s}`));
}

function finalState(m: PathMachineName): string {
  const states = PATH_CONFIGS[m].states as Readonly<Record<string, { readonly type?: string }>>;
  return Object.keys(states).find((s) => states[s]!.type === 'final')!;
}

/** The path machine states a log's steps passed, as `<machine>.<state>`. */
export function visitedStates(records: readonly { readonly step?: string; readonly returned?: unknown }[]): Set<string> {
  const seen = new Set<string>();
  let last: PathMachineName | undefined;
  for (const r of records) {
    const m = r.step === undefined ? undefined : /^([a-z_]+)\.([a-z]+)$/.exec(r.step);
    if (m !== undefined && m !== null) {
      last = PATHS[m[1] as PathName].machine;
      seen.add(`${last}.${m[2]}`);
    }
    if (r.returned !== undefined && last !== undefined) seen.add(`${last}.${finalState(last)}`);
  }
  return seen;
}

export function pathTarget(state: string): Target {
  const [m, s] = state.split('.');
  return { name: `path-${m}-${s}`, title: `path ${m} state ${s}` };
}

export function generatePaths(): Coverage {
  const states = allPathStates();
  const recipes = states.map((state): Recipe => {
    const [m, s] = state.split('.') as [PathMachineName, string];
    const run: PathRun = RUNS[(RUN_FOR[m] as Readonly<Record<string, RunName>>)[s]!];
    return {
      target: pathTarget(state),
      build: () => {
        const rig = new Rig(run.rig);
        const record = run.setUp(rig);
        rig.start(TASK, record, 0);
        rig.log.runTask(TASK);
        return { rig, reached: visitedStates(rig.log.applied.filter((a) => a.record['task'] === TASK)).has(state) };
      },
    };
  });
  return buildAll('paths', states.map(pathTarget), recipes, []);
}
