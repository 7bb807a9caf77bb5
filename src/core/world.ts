/**
 * The world: every kernel object the model knows, as plain data (Maps, arrays, bigints; no class
 * instances, no closures), so that it can be cloned, hashed and compared.
 *
 * Objects name each other by key, never by reference. Each object that has a lifecycle carries
 * `state`, the value of its machine in machines/ (the machine owns which transitions are legal;
 * the engine owns everything else: counts, ranges, page tables).
 *
 * Units: addresses and sizes are bytes (bigint); locked_vm and npage are pages (number).
 */
import type { Prot, ResvSpec, Stimulus } from '../vocab/records.js';
import type { IovaTree } from './iova-tree.js';

export interface HostIommu {
  /** Page sizes the IOMMU supports, as a bitmap (iommu_domain pgsize_bitmap). */
  pgsizeBitmap: bigint;
  /** Inclusive IOVA aperture of the domain geometry. */
  aperture: readonly [bigint, bigint];
  /** Reserved regions reported by iommu_get_group_resv_regions(), inclusive. */
  resv: ResvSpec[];
}

export interface Bar {
  readonly index: number;
  readonly phys: bigint;
  readonly size: bigint;
}

export interface Device {
  readonly name: string; // BDF, or the mdev's UUID-like name
  readonly group: string; // key into World.groups
  readonly mdev: boolean;
  readonly bars: Bar[];
  readonly pasidBits: number;
  readonly pri: boolean;
  /** machines/device.machine.ts */
  state: string;
  /** vfio_device.open_count */
  openCount: number;
  /** Registration references: one per open device file (vfio_device.refcount). */
  registrations: number;
  /** PCI_COMMAND_MEMORY in vfio-pci's virtualised command register (vconfig). */
  memoryEnabled: boolean;
  /**
   * PCI_COMMAND_MASTER in the device's command register: vfio-pci's last close clears it
   * (vfio_pci_core_disable: pci_clear_master, pci_disable_device); a device without it issues
   * no DMA. The model's open device is a bus master (the user sets the bit through the config
   * region, which the model does not model).
   */
  busMaster: boolean;
  /** PASIDs the device may still issue requests on: set at bind, cleared by device.stop_pasid. */
  pasidsInUse: number[];
  /** PASIDs the device stopped (and was not bound to again): it sends no page request on them. */
  pasidsStopped: number[];
  /** The mdev vendor driver's pins: iova page -> count the driver holds (mdev only). */
  vendorPins: Map<bigint, number>;
  /** The device sits in a PCIe hotplug slot (pciehp): a function reset resets the slot. */
  readonly hotplug: boolean;
  /**
   * The device has a reset method (`host.device` `reset`, default true): vfio_pci_core_enable's
   * `vdev->reset_works = !ret` of pci_try_reset_function, which is -ENOTTY without one
   * (pci_reset_supported), and the sysfs `reset` attribute's visibility.
   */
  readonly resetWorks: boolean;
  /** The device is an SR-IOV physical function (its sriov_* sysfs attributes exist). */
  readonly sriov: boolean;
  /** IOMMU mappings of this device's BARs that 'vma-link' and 'dmabuf' schemes unmap on a zap. */
  linked: Array<{ container: number; iova: bigint }>;
  /** dma-buf schemes: the BAR's dma-bufs are revoked (vfio_pci_dma_buf_move). */
  revoked: boolean;
  /** vdev->pm_runtime_engaged (VFIO_DEVICE_FEATURE LOW_POWER_ENTRY): BAR faults SIGBUS. */
  pmRuntimeEngaged: boolean;
}

export interface Group {
  readonly key: string; // "26", or "noiommu-0"
  readonly noiommu: boolean;
  readonly emulated: boolean; // VFIO_EMULATED_IOMMU (mdev)
  readonly devices: string[];
  /** machines/group.machine.ts */
  state: string;
  /** The open group file (only one at a time: vfio_group_fops_open gives EBUSY). */
  file: number | null;
  container: number | null;
  /** vfio_group.container_users: 1 for the group itself plus one per open device. */
  containerUsers: number;
  /** Cleared by vfio_device_remove_group when the last device is unregistered. */
  iommuGroupPresent: boolean;
}

/** A PTE extent of an IOMMU domain: [iova, iova+size) -> [phys, phys+size). */
export interface IommuPte {
  readonly iova: bigint;
  readonly size: bigint;
  readonly phys: bigint;
  readonly dma: number; // the vfio_dma that created it
}

/** A run of pages vfio pinned (or found as MMIO) for a vfio_dma, in IOVA order. */
export interface PinExtent {
  readonly iova: bigint;
  readonly size: bigint;
  readonly phys: bigint;
  /** 'ram': FOLL_LONGTERM-pinned pages; 'mmio': a reserved pfn (a BAR), neither pinned nor charged. */
  readonly kind: 'ram' | 'mmio';
  /** For MMIO: the device and BAR the pfns belong to. */
  readonly device?: string;
  readonly bar?: number;
}

export interface VfioDma {
  readonly id: number;
  readonly iova: bigint;
  size: bigint;
  vaddr: bigint;
  readonly prot: Prot;
  /** machines/vfio-dma.machine.ts */
  state: string;
  /** capable(CAP_IPC_LOCK) of the mapper at MAP time. */
  lockCap: boolean;
  /** dma->task (group leader pid) and dma->mm, held by get_task_struct / mmgrab. */
  task: number;
  mm: number;
  /** Pages this dma charged to mm->locked_vm. */
  lockedVm: number;
  vaddrInvalid: boolean;
  iommuMapped: boolean;
  /** What vfio_pin_map_dma pinned: empty when the container has no IOMMU domain. */
  extents: PinExtent[];
  /** pfn_list: pages pinned by mdev vendor drivers, iova page -> {phys, refs}. */
  pfnList: Map<bigint, { phys: bigint; refs: number }>;
}

export interface Domain {
  readonly id: number;
  /** Groups attached to this domain. */
  groups: string[];
  /** PTE runs by iova, never overlapping. */
  ptes: IovaTree<IommuPte>;
  /** IOVA windows that may be mapped (vfio_iommu iova_list after resv exclusion), inclusive. */
  iovaList: Array<readonly [bigint, bigint]>;
}

export interface Type1 {
  readonly v2: boolean;
  /** dma_list: the vfio_dma by iova (never overlapping). */
  dmas: IovaTree<VfioDma>;
  dmaAvail: number;
  /**
   * The real IOMMU domains. The model keeps one domain per container (every IOMMU group of the
   * host shares the host's IOMMU ops and coherency, so type1 would reuse the first domain).
   */
  domain: Domain | null;
  emulatedGroups: string[];
  /** Devices with a dma_unmap op (mdevs) registered (before v6.0: notifier blocks on iommu->notifier). */
  deviceList: string[];
  /** Before v6.0 (rule vfio-dma-unmap-callback): a blocking notifier chain, no device_list_lock. */
  readonly notifierChain: boolean;
  vaddrInvalidCount: number;
}

export interface Container {
  readonly id: number;
  /** machines/container.machine.ts: noDriver | type1 | noiommu | freed */
  state: string;
  groups: string[];
  /** kref: the container file plus one per attached group. */
  refs: number;
  noiommu: boolean;
  type1: Type1 | null;
}

/** `tty`: fds 0-2 of a spawned process; releasing one does nothing the model sees. */
export type FileKind = 'container' | 'group' | 'device' | 'tty';

/** A struct file: shared by fork and by a device's reference on its group file. */
export interface OpenFile {
  readonly id: number;
  readonly kind: FileKind;
  /** f_count: fd-table slots plus kernel references (a device file pins its group file). */
  refs: number;
  readonly container?: number;
  readonly group?: string;
  readonly device?: string;
}

export interface Vma {
  readonly start: bigint;
  readonly end: bigint; // exclusive
  readonly prot: Prot;
  readonly kind: 'anon' | 'bar';
  /** anon: the physical base of its backing, given at the first fault or pin (null: not yet). */
  phys: bigint | null;
  /** bar: the device file's device, region index and offset into the BAR. */
  readonly device?: string;
  readonly bar?: number;
  readonly pgoff?: bigint;
  /** bar: the device file the vma holds (vma->vm_file, one reference per vma). */
  readonly file?: number;
  /** bar: PTEs installed by the fault handler (machines/bar-mapping.machine.ts); anon: 'anon'. */
  state: string;
  /** bar: the page addresses whose PTEs the fault handler inserted, ascending (state 'populated' iff any). */
  pages?: bigint[];
}

export interface Mm {
  readonly id: number;
  /** machines/mm.machine.ts: live | exited | freed */
  state: string;
  /** mm_users: processes using the address space. */
  users: number;
  /** mm_count: mmgrab references (one for the users collectively, plus vfio_dma, SVA). */
  count: number;
  /** locked_vm in pages. */
  lockedVm: number;
  vmas: Vma[]; // sorted by start
  /** mm->iommu_mm->pasid, allocated at the first SVA bind, freed at __mmdrop. */
  pasid: number | null;
  /** SVA bindings' MMU-notifier subscriptions (device names). */
  svaNotifiers: string[];
  /** Containers whose type1 registered an MMU notifier on this mm (schemes with type1Notifier). */
  type1Notifiers: number[];
  /**
   * The interval tree of mm->notifier_subscriptions (mm/mmu_notifier.c): invalidate_seq (even:
   * idle, odd: an invalidation overlapping some interval is in flight; starts at 2), the number
   * of active invalidations, and the interval notifiers (schemes with pfnmap 'interval').
   */
  itreeSeq: number;
  itreeActive: number;
  intervals: IntervalSub[];
  /** Where the next mmap without an address goes (a bump pointer, so runs are deterministic). */
  nextMmap: bigint;
  /** The OOM reaper tore this address space down (MMF_OOM_SKIP). */
  reaped: boolean;
}

/** The first address mmap hands out when the log gives none. */
export const MMAP_BASE = 0x7f0000000000n;

/**
 * A subscriber an MMU-notifier invalidation of an mm calls (mm->notifier_subscriptions): an SVA
 * bond's notifier, type1's notifier (schemes with type1Notifier), an interval notifier (pfnmap
 * 'interval'), or a BAR mapping a scheme linked to its device ('vma-link', 'dmabuf').
 */
export type Subscriber =
  | { readonly kind: 'sva'; readonly device: string }
  | { readonly kind: 'type1'; readonly container: number }
  | { readonly kind: 'interval'; readonly container: number; readonly dmaIova: bigint }
  | { readonly kind: 'link'; readonly container: number; readonly dmaIova: bigint };

/** An mmu_interval_notifier that type1 (pfnmap 'interval') inserted for a dma's user range. */
export interface IntervalSub {
  readonly container: number;
  readonly dmaIova: bigint;
  readonly start: bigint;
  readonly end: bigint;
  /** sub->invalidate_seq: always odd. */
  seq: number;
}

export interface Process {
  readonly pid: number;
  /** machines/process.machine.ts: running | exited */
  state: string;
  mm: number;
  /** fd -> file id */
  fds: Map<number, number>;
  readonly rlimitMemlock: bigint; // bytes
  readonly capIpcLock: boolean;
  readonly capSysRawio: boolean;
}

/** An SVA bond (iommu_sva handle): a device bound to an mm's PASID. */
export interface SvaBond {
  readonly device: string;
  readonly mm: number;
  readonly pid: number;
  readonly pasid: number;
  /** References on the handle: a repeated (device, mm) bind shares it (v6.10+). */
  users: number;
  /** Made by the 2017 RFC's VFIO_DEVICE_BIND_TASK (unbound on the device file's release). */
  viaVfio?: boolean;
  /** machines/sva-bond.machine.ts: bound | cleared | unbound */
  state: string;
}

export interface PageRequest {
  readonly id: number;
  readonly device: string;
  readonly pasid: number;
  readonly addr: bigint;
  readonly write: boolean;
  /** machines/page-request.machine.ts: pending | answered */
  state: string;
  response: 'SUCCESS' | 'INVALID' | null;
}

/** PASIDs ever handed out; absent means free. machines/pasid.machine.ts gives `state`. */
export type PasidTable = Map<number, { state: string; mm: number | null }>;

/** A sleeping lock (docs/concurrency.md): a mutex, or an rwsem with readers and a writer. */
export interface LockState {
  readonly kind: 'mutex' | 'rwsem';
  writer: string | null;
  readers: string[];
}

export interface HeldLock {
  readonly id: string;
  readonly mode: 'read' | 'write';
}

/** One kernel path in flight: the stimulus, its path machine's state, and its locals. */
export interface RunningPath {
  readonly stimulus: Stimulus;
  readonly path: string;
  state: string;
  /** The path's locals (plain data: numbers, strings, bigints, arrays, objects), named by each path. */
  ctx: Record<string, unknown>;
}

/** A kernel task (docs/concurrency.md): runs its stimuli in order, one atomic step at a time. */
export interface Task {
  readonly name: string;
  /** Stimuli not started yet, in log order. */
  queue: Stimulus[];
  current: RunningPath | null;
  /** Locks held, in acquisition order (pseudo-locks too, while inside them). */
  held: HeldLock[];
  /** Depth of non-blockable invalidation contexts (non_block_start). */
  nonBlock: number;
  /**
   * Files whose last reference this task dropped: fput() defers ____fput to task_work, which
   * runs each release before the syscall returns (or in exit_task_work), one step each.
   */
  deferred: number[];
  /**
   * The task took its error path: its stimulus `seq` failed and its later stimuli
   * were dropped. Absent while the task runs its records in order.
   */
  stopped?: { readonly seq: number; readonly why: string };
}

export interface World {
  iommu: HostIommu;
  devices: Map<string, Device>;
  groups: Map<string, Group>;
  containers: Map<number, Container>;
  files: Map<number, OpenFile>;
  processes: Map<number, Process>;
  mms: Map<number, Mm>;
  bonds: SvaBond[];
  pageRequests: PageRequest[];
  pasids: PasidTable;
  /** The next free physical address of the RAM pool (a bump allocator). */
  nextRamPhys: bigint;
  /** The next object id (containers, files, mms, dmas, domains, requests). */
  nextId: number;
  /** PCI devices were declared: host.iommu must come before them. */
  sealed: boolean;
  /** Concurrent kernel tasks by name, and the sleeping locks by instance id. */
  tasks: Map<string, Task>;
  locks: Map<string, LockState>;
}

/** The host.iommu defaults (docs/log-format.md): 4K|2M|1G pages, 48-bit aperture, x86 MSI window. */
export function defaultIommu(): HostIommu {
  return {
    pgsizeBitmap: 0x1000n | 0x200000n | 0x40000000n,
    aperture: [0n, (1n << 48n) - 1n],
    resv: [{ start: 0xfee00000n, end: 0xfeefffffn, type: 'msi' }],
  };
}

/** RAM pages come from here; chosen far above any BAR or MSI address a log is likely to use. */
export const RAM_BASE = 0x1_0000_0000_0000n;

export function emptyWorld(): World {
  return {
    iommu: defaultIommu(),
    devices: new Map(),
    groups: new Map(),
    containers: new Map(),
    files: new Map(),
    processes: new Map(),
    mms: new Map(),
    bonds: [],
    pageRequests: [],
    pasids: new Map(),
    nextRamPhys: RAM_BASE,
    nextId: 1,
    sealed: false,
    tasks: new Map(),
    locks: new Map(),
  };
}

export function newId(w: World): number {
  return w.nextId++;
}
