/**
 * Host set-up (docs/log-format.md, Host set-up): the IOMMU's capabilities and the devices bound to vfio-pci or created
 * as mediated devices. These declare the machine being modelled; they are not kernel calls.
 */
import type { StimulusOf } from '../vocab/records.js';
import { type Outcome, Tx } from '../core/tx.js';
import { initialState } from '../core/stepper.js';
import type { Device, Group } from '../core/world.js';
import { BadReference, showValue } from '../vocab/errors.js';

export function hostIommu(tx: Tx, s: StimulusOf<'host.iommu'>): Outcome {
  if (tx.world.sealed) throw new BadReference('op', 'host.iommu must come before the first host.device or host.mdev');
  const iommu = tx.world.iommu;
  if (s.pgsizes !== undefined) {
    if (s.pgsizes === 0n) throw new BadReference('pgsizes', 'an IOMMU supports at least one page size');
    iommu.pgsizeBitmap = s.pgsizes;
  }
  if (s.aperture !== undefined) iommu.aperture = s.aperture;
  if (s.resv !== undefined) iommu.resv = s.resv;
  return { ret: 0n, decidedBy: 'host.iommu' };
}

function declareDevice(tx: Tx, name: string, groupNo: number, noiommu: boolean, mdev: boolean): Group {
  if (tx.world.devices.has(name)) throw new BadReference('device', `device ${showValue(name)} is already declared`);
  const key = noiommu ? `noiommu-${groupNo}` : String(groupNo);
  let g = tx.world.groups.get(key);
  if (g === undefined) {
    g = { key, noiommu, emulated: mdev, devices: [], state: initialState('group'), file: null, container: null, containerUsers: 0, iommuGroupPresent: true };
    tx.world.groups.set(key, g);
  } else if (g.emulated !== mdev) {
    throw new BadReference('group', `group ${groupNo} already holds ${g.emulated ? 'mediated' : 'PCI'} devices`);
  } else if (g.file !== null) {
    throw new BadReference('group', `group ${groupNo} is in use; declare its devices before opening it`);
  }
  g.devices.push(name);
  tx.world.sealed = true;
  return g;
}

/**
 * The widest PASID a PCIe function can have: the PASID capability's Max PASID Width is 5 bits
 * (drivers/pci/ats.c:pci_max_pasids: `return (1 << FIELD_GET(PCI_PASID_CAP_WIDTH, supported));`),
 * and a PASID is 20 bits (PCIe base spec), so widths above 20 are reserved.
 */
const MAX_PASID_BITS = 20;

export function hostDevice(tx: Tx, s: StimulusOf<'host.device'>): Outcome {
  // 0 (the default) is a device without the PASID capability (pci_max_pasids: -EINVAL).
  if (s.pasid_bits !== undefined && s.pasid_bits > MAX_PASID_BITS) throw new BadReference('pasid_bits', `${s.pasid_bits} is above the PASID capability's widest Max PASID Width, ${MAX_PASID_BITS} (0: no PASID capability)`);
  // A scheme with noiommu mode models a platform without an IOMMU: every device is noiommu.
  const g = declareDevice(tx, s.device, s.group, s.noiommu === true || tx.policy.noiommu, false);
  const bars = s.bars ?? [];
  const d: Device = {
    name: s.device,
    group: g.key,
    mdev: false,
    bars,
    pasidBits: s.pasid_bits ?? 0,
    pri: s.pri === true,
    state: initialState('device'),
    openCount: 0,
    registrations: 0,
    memoryEnabled: false,
    busMaster: true,
    pasidsInUse: [],
    pasidsStopped: [],
    vendorPins: new Map(),
    hotplug: s.hotplug === true,
    resetWorks: s.reset !== false,
    sriov: s.sriov === true,
    linked: [],
    revoked: false,
    pmRuntimeEngaged: false,
  };
  tx.world.devices.set(d.name, d);
  tx.emit('device.registered', { device: d.name, group: g.key });
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_core_register_device' };
}

export function hostMdev(tx: Tx, s: StimulusOf<'host.mdev'>): Outcome {
  const g = declareDevice(tx, s.device, s.group, false, true);
  const d: Device = {
    name: s.device,
    group: g.key,
    mdev: true,
    bars: [],
    pasidBits: 0,
    pri: false,
    state: initialState('device'),
    openCount: 0,
    registrations: 0,
    memoryEnabled: true,
    busMaster: false,
    pasidsInUse: [],
    pasidsStopped: [],
    vendorPins: new Map(),
    hotplug: false,
    resetWorks: false,
    sriov: false,
    linked: [],
    revoked: false,
    pmRuntimeEngaged: false,
  };
  tx.world.devices.set(d.name, d);
  tx.emit('device.registered', { device: d.name, group: g.key, mdev: true });
  return { ret: 0n, decidedBy: 'vfio_main.c:vfio_register_emulated_iommu_dev' };
}
