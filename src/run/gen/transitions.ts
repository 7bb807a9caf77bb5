/**
 * `gen --cover transitions`: a log for every transition of every object machine
 * (machines/*.machine.ts). xstate/graph gives the event sequence: the shortest path from the
 * machine's initial state to the transition's source (getShortestPaths), then its event; a
 * recipe may name a longer sequence where the machine abstracts away data the kernel needs
 * (getPathsFromEvents checks that the machine takes it). Each event becomes stimuli through the
 * act below for that machine and event, and the log counts only if the model's own `state`
 * records show the transition (a self-loop changes no state: its witness is the derived record
 * the kernel code emits as it fires it).
 */
import type { AnyMachineSnapshot, AnyStateMachine } from 'xstate';
import { getAdjacencyMap, getPathsFromEvents, getShortestPaths, type AdjacencyMap, type AdjacencyValue } from 'xstate/graph';
import { MACHINES, type ObjectEvent, type ObjectMachineName } from '../../../machines/index.js';
import { hex } from '../../log/u64.js';
import type { Derived } from '../../vocab/records.js';
import { ObjectStates } from './builder.js';
import { buildAll, type Coverage, type Gap, type Recipe, type Target } from './coverage.js';
import { ANON, ANON_SIZE, BAR_MAP_SIZE, BAR_VA, PID, Rig, type RigOptions } from './rig.js';

export interface Transition {
  readonly machine: ObjectMachineName;
  readonly from: string;
  readonly event: string;
  readonly to: string;
}

const key = (t: Pick<Transition, 'machine' | 'from' | 'event'>): string => `${t.machine}.${t.from}.${t.event}`;
const title = (t: Transition): string => `${t.machine} ${t.from} -${t.event}-> ${t.to}`;

function machineOf(name: ObjectMachineName): AnyStateMachine {
  return MACHINES[name] as unknown as AnyStateMachine;
}

function eventsOf(m: AnyStateMachine): { type: string }[] {
  return [...m.events].sort().map((type) => ({ type }));
}

const stateName = (s: AnyMachineSnapshot): string => String(s.value);

/** Every transition of a machine, from its adjacency map (an event a state ignores is none). */
export function transitionsOf(name: ObjectMachineName): Transition[] {
  const m = machineOf(name);
  const out: Transition[] = [];
  const adjacency: AdjacencyMap<AnyMachineSnapshot, { type: string }> = getAdjacencyMap(m, { events: eventsOf(m) });
  for (const { state, transitions } of Object.values(adjacency)) {
    for (const { event, state: next } of Object.values(transitions) as AdjacencyValue<AnyMachineSnapshot, { type: string }>['transitions'][never][]) {
      if (m.getTransitionData(state, event).length === 0) continue;
      out.push({ machine: name, from: stateName(state), event: event.type, to: stateName(next) });
    }
  }
  return out;
}

/** Every object machine's transitions, by machine name, in each machine's adjacency order. */
export function allTransitions(): Transition[] {
  return (Object.keys(MACHINES) as ObjectMachineName[]).sort().flatMap(transitionsOf);
}

/** A step of an event sequence: the event and the state it leads to. */
interface Step {
  readonly event: string;
  readonly to: string;
}

/** The events that take `t`: the shortest path to its source, or the recipe's own sequence. */
function eventPath(t: Transition, via: readonly string[] | undefined): Step[] {
  const m = machineOf(t.machine);
  const path = via === undefined
    ? getShortestPaths(m, { events: eventsOf(m) }).find((p) => stateName(p.state as AnyMachineSnapshot) === t.from)
    : getPathsFromEvents(m, via.map((type) => ({ type })))[0];
  if (path === undefined) throw new Error(`no path to ${t.machine} ${t.from}`);
  // steps[0] is xstate.init, which yields the initial state
  const steps = path.steps.slice(1).map((s) => ({ event: s.event.type, to: stateName(s.state as AnyMachineSnapshot) }));
  if (via !== undefined && steps.at(-1)?.to !== t.from) throw new Error(`${via.join(', ')} does not lead to ${t.machine} ${t.from}`);
  return [...steps, { event: t.event, to: t.to }];
}

/** Makes one event happen to the log's object: `from` is the object's state before it. */
type Act = (rig: Rig, from: string) => void;

interface MachineRecipe<M extends ObjectMachineName> {
  /** The host and process the machine's logs need. */
  readonly rig?: RigOptions;
  /** Rig options an event needs (any log whose path takes it gets them). */
  readonly rigFor?: { readonly [E in ObjectEvent<M>]?: RigOptions };
  readonly on: { readonly [E in ObjectEvent<M>]: Act };
  /** Event sequences to a transition's source, by `from.EVENT`, where the shortest path cannot do. */
  readonly via?: Readonly<Record<string, readonly ObjectEvent<M>[]>>;
}

const RFC = 'svm-bind-task-rfc';

/** sva.bind, or under the 2017 RFC VFIO_DEVICE_BIND_TASK (the PASID its unbind can leak). */
function bind(rig: Rig): void {
  if (rig.options.scheme !== RFC) return rig.svaBind();
  rig.anon();
  rig.ioctl(rig.deviceFd(), 'VFIO_DEVICE_BIND_TASK');
}

const unbindDevice = (rig: Rig): void => {
  rig.push({ op: 'device.unbind', device: rig.deviceName });
};

const RECIPES: { readonly [M in ObjectMachineName]: MachineRecipe<M> } = {
  process: { on: { EXIT: (rig) => void rig.exit(), EXITED: (rig) => void rig.exit() } },
  mm: { on: { LAST_USER_GONE: (rig) => void rig.exit(), LAST_REF_DROPPED: (rig) => void rig.exit() } },
  container: {
    rigFor: { SET_IOMMU_NOIOMMU: { noiommu: true } },
    on: {
      SET_IOMMU_TYPE1: (rig) => void rig.iommu(),
      SET_IOMMU_NOIOMMU: (rig) => void rig.iommu(),
      LAST_GROUP_DETACHED: (rig) => void rig.ioctl(rig.groupFd(), 'VFIO_GROUP_UNSET_CONTAINER'),
      LAST_REF_DROPPED: (rig) => void rig.close(rig.containerFd()),
    },
  },
  group: {
    on: {
      OPEN: (rig) => void rig.groupFd(),
      SET_CONTAINER: (rig) => rig.attach(),
      UNSET_CONTAINER: (rig) => void rig.ioctl(rig.groupFd(), 'VFIO_GROUP_UNSET_CONTAINER'),
      RELEASE: (rig) => void rig.close(rig.groupFd()),
      // vfio_device_remove_group: the unbind of the group's only device (not open)
      REMOVE: (rig) => {
        rig.declare();
        unbindDevice(rig);
      },
    },
    // closing the group file of a removed group needs the file open before the removal
    via: { 'removed.RELEASE': ['OPEN', 'REMOVE'] },
  },
  device: {
    on: {
      OPEN_FIRST: (rig) => void rig.deviceFd(),
      CLOSE_LAST: (rig) => void rig.close(rig.deviceFd()),
      // an open device's unbind waits for its last user: a task, stopped after its first step
      UNBIND: (rig, from) => {
        rig.declare();
        if (from === 'open') rig.start('unbind', { op: 'device.unbind', device: rig.deviceName });
        else unbindDevice(rig);
      },
      REMOVE: (rig) => rig.settle(),
    },
  },
  vfio_dma: {
    on: {
      PINNED: (rig) => void rig.map(),
      // no vma at the user address: vaddr_get_pfns fails, vfio_pin_map_dma removes the dma
      PIN_FAILED: (rig) => void rig.map({ vaddr: ANON + ANON_SIZE * 16n }),
      INVALIDATE_VADDR: (rig) => void rig.unmap({ flags: ['VADDR'] }),
      UPDATE_VADDR: (rig) => void rig.map({ flags: ['VADDR'] }),
      REMOVE: (rig) => void rig.unmap(),
    },
  },
  bar_mapping: {
    on: {
      // the first fault populates the vma; a fault of its second page keeps it populated
      FAULT: (rig, from) => {
        const va = rig.barMmap();
        rig.push({ op: 'touch', pid: PID, addr: hex(from === 'populated' ? va + 0x1000n : va) });
      },
      ZAP: (rig) => void rig.push({ op: 'pci.command', pid: PID, fd: rig.deviceFd(), memory: false }),
      UNMAP: (rig) => {
        rig.barMmap();
        rig.push({ op: 'munmap', pid: PID, addr: hex(BAR_VA), length: hex(BAR_MAP_SIZE) });
      },
    },
  },
  pasid: {
    rig: { sva: true },
    rigFor: { LEAK: { scheme: RFC } },
    on: {
      ALLOCATE: bind,
      // upstream frees the PASID at __mmdrop: after the unbind's mmdrop and the exit
      FREE: (rig) => {
        rig.svaUnbind();
        rig.exit();
      },
      // the RFC's VFIO_DEVICE_UNBIND_TASK without FLUSHED or CLEAN
      LEAK: (rig) => void rig.ioctl(rig.deviceFd(), 'VFIO_DEVICE_UNBIND_TASK', { flags: [], pasid: 1 }),
    },
  },
  page_request: {
    rig: { sva: true },
    on: {
      RESPOND: (rig) => {
        bind(rig);
        rig.push({ op: 'device.page_request', device: rig.deviceName, pasid: 1, addr: hex(ANON + 0x1000n) });
      },
    },
  },
  sva_bond: {
    rig: { sva: true },
    on: {
      // the exit's mmu_notifier_release clears the bond; the driver unbinds it after
      MM_RELEASE: (rig) => {
        bind(rig);
        rig.exit();
        rig.svaUnbind();
      },
      UNBIND: (rig, from) => {
        if (from === 'bound') bind(rig);
        rig.svaUnbind();
      },
    },
  },
};

/** Self-loops change no state; each is witnessed by the record its kernel code emits with it. */
const SELF_LOOPS: Readonly<Record<string, (d: Derived) => boolean>> = {
  // faultBar (src/kernel/vfio/pci/bar.ts): FAULT, then bar.fault VM_FAULT_NOPAGE
  'bar_mapping.populated.FAULT': (d) => d.op === 'bar.fault' && d['result'] === 'VM_FAULT_NOPAGE',
  // fput of the group file: file.released, then vfio_group_fops_release fires RELEASE
  'group.removed.RELEASE': (d) => d.op === 'file.released' && String(d['file']).startsWith('group:'),
};

/** Transitions the model declares but never takes, and why. */
export const TRANSITION_GAPS: Readonly<Record<string, string>> = {
  'bar_mapping.empty.ZAP':
    'vfio_pci_zap_bars (src/kernel/vfio/pci/bar.ts zapBars) fires ZAP only on a populated vma: zapping a vma without PTEs removes nothing, so the declared self-loop never runs',
};

/** Whether the records show `t`: its `state` record, or a self-loop's witness while the object was in its state. */
export function witnessed(t: Transition, records: readonly { readonly derived: readonly Derived[] }[]): boolean {
  const states = new ObjectStates();
  const self = SELF_LOOPS[key(t)];
  for (const r of records) {
    const before = states.state(t.machine);
    for (const d of r.derived) {
      if (self === undefined && d.op === 'state' && String(d['object']).startsWith(`${t.machine}:`) && d['from'] === t.from && d['event'] === t.event && d['to'] === t.to) return true;
      if (self !== undefined && before === t.from && self(d)) return true;
    }
    states.update(r.derived);
  }
  return false;
}

function recipeFor(t: Transition, target: Target): Recipe {
  const recipe = RECIPES[t.machine] as MachineRecipe<ObjectMachineName>;
  const rigFor = (recipe.rigFor ?? {}) as Readonly<Record<string, RigOptions>>;
  const on = recipe.on as Readonly<Record<string, Act>>;
  const steps = eventPath(t, recipe.via?.[`${t.from}.${t.event}`]);
  return {
    target,
    build: () => {
      const rig = new Rig(Object.assign({}, recipe.rig, ...steps.map((s) => rigFor[s.event] ?? {})) as RigOptions);
      let reached = false;
      steps.forEach((s, i) => {
        if (reached) return;
        const from = rig.log.stateOf(t.machine);
        // an earlier act's kernel path may have taken this event already (exit fires EXIT and EXITED)
        if (i < steps.length - 1 && from === s.to) return;
        on[s.event]!(rig, from);
        reached = witnessed(t, rig.log.applied);
      });
      rig.settle();
      return { rig, reached };
    },
  };
}

export function transitionTarget(t: Transition): Target {
  return { name: `transition-${t.machine}-${t.from}-${t.event}`, title: title(t) };
}

export function generateTransitions(): Coverage {
  const all = allTransitions();
  const recipes: Recipe[] = [];
  const gaps: Gap[] = [];
  for (const t of all) {
    const target = transitionTarget(t);
    const why = TRANSITION_GAPS[key(t)];
    if (why !== undefined) gaps.push({ target, why });
    else recipes.push(recipeFor(t, target));
  }
  return buildAll('transitions', all.map(transitionTarget), recipes, gaps);
}
