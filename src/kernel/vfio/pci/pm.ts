/**
 * vfio-pci runtime power management through VFIO_DEVICE_FEATURE (drivers/vfio/vfio_main.c
 * vfio_ioctl_device_feature -> drivers/vfio/pci/vfio_pci_core.c vfio_pci_core_ioctl_feature):
 * LOW_POWER_ENTRY zaps the BARs under memory_lock and sets pm_runtime_engaged, after which a BAR
 * fault is VM_FAULT_SIGBUS (vfio_pci_vmf_insert_pfn); LOW_POWER_EXIT clears it under
 * memory_lock. The model has no D-states: only the flag (docs/model.md).
 */
import { assertHeld } from '../../../core/locks.js';
import type { Outcome, Tx } from '../../../core/tx.js';
import type { Device } from '../../../core/world.js';
import { BadReference } from '../../../vocab/errors.js';
import { lockOf } from '../../../vocab/locks.js';
import { zapBars } from './bar.js';
import { argFlags, argObject } from '../uapi.js';
import type { StimulusOf } from '../../../vocab/records.js';

const FLAGS = ['GET', 'SET', 'PROBE'] as const;
const FEATURES = ['LOW_POWER_ENTRY', 'LOW_POWER_EXIT'] as const;
/** offsetofend(struct vfio_device_feature, flags): argsz, flags. */
const FEATURE_MINSZ = 8;

export interface FeatureArg {
  readonly flags: ReadonlySet<string>;
  readonly feature: (typeof FEATURES)[number];
}

/** The `arg` of VFIO_DEVICE_FEATURE: `{flags: [GET|SET|PROBE...], feature}`; bad input names the field. */
export function featureArg(s: StimulusOf<'ioctl'>): FeatureArg {
  const o = argObject(s, ['flags', 'feature']);
  const flags = argFlags(o, FLAGS);
  const feature = o['feature'];
  if (typeof feature !== 'string' || !(FEATURES as readonly string[]).includes(feature)) throw new BadReference('arg.feature', `expected one of ${FEATURES.join(', ')}`);
  return { flags, feature: feature as FeatureArg['feature'] };
}

/**
 * The checks before a low-power feature acts, in the kernel's order: vfio_ioctl_device_feature
 * (`if (feature.argsz < minsz) return -EINVAL;`, `/* GET & SET are mutually exclusive except
 * with PROBE *\/`, `if (unlikely(!device->ops->device_feature)) return -EINVAL;`: the model's
 * mdev drivers have none), then vfio_pci_core_pm_entry/_exit's `vfio_check_feature(flags,
 * argsz, VFIO_DEVICE_FEATURE_SET, 0)`: GET is EINVAL, PROBE returns 0, neither GET nor SET is
 * EINVAL. Returns the outcome when the feature does not act, or null when it does.
 */
export function featureRefused(tx: Tx, d: Device, s: StimulusOf<'ioctl'>): Outcome | null {
  const { flags } = featureArg(s);
  const at = 'vfio_main.c:vfio_ioctl_device_feature';
  if ((s.argsz ?? FEATURE_MINSZ) < FEATURE_MINSZ) return tx.fail('EINVAL', `${at}: feature.argsz < minsz`);
  if (!flags.has('PROBE') && flags.has('SET') && flags.has('GET')) return tx.fail('EINVAL', `${at}: GET & SET are mutually exclusive except with PROBE`);
  if (d.mdev) return tx.fail('EINVAL', `${at}: !device->ops->device_feature (the model's mdev drivers have none)`);
  if (flags.has('GET')) return tx.fail('EINVAL', 'vfio.h:vfio_check_feature: flags & GET & ~supported_ops (SET only)');
  if (flags.has('PROBE')) return { ret: 0n, decidedBy: 'vfio.h:vfio_check_feature: PROBE of a supported feature returns 0' };
  if (!flags.has('SET')) return tx.fail('EINVAL', 'vfio.h:vfio_check_feature: without PROBE one of GET or SET must be requested');
  return null;
}

/** Whether a stimulus is VFIO_DEVICE_FEATURE SET LOW_POWER_ENTRY that passes the checks (it zaps). */
export function isPmEntry(s: StimulusOf<'ioctl'>): boolean {
  return actingFeature(s) === 'LOW_POWER_ENTRY';
}

/**
 * The feature a VFIO_DEVICE_FEATURE stimulus acts on once past the flag checks (the device's
 * own checks aside), or undefined; a bad arg is left to deviceFeature to report.
 */
export function actingFeature(s: StimulusOf<'ioctl'>): FeatureArg['feature'] | undefined {
  if (s.cmd !== 'VFIO_DEVICE_FEATURE') return undefined;
  let a: FeatureArg;
  try {
    a = featureArg(s);
  } catch {
    return undefined;
  }
  const set = a.flags.has('SET') && !a.flags.has('GET') && !a.flags.has('PROBE');
  return set && (s.argsz ?? FEATURE_MINSZ) >= FEATURE_MINSZ ? a.feature : undefined;
}

/** VFIO_DEVICE_FEATURE: the feature the kernel dispatches to, after its checks. */
export function deviceFeature(tx: Tx, d: Device, s: StimulusOf<'ioctl'>): Outcome {
  const refused = featureRefused(tx, d, s);
  if (refused !== null) return refused;
  return featureArg(s).feature === 'LOW_POWER_ENTRY' ? pmEntry(tx, d) : pmExit(tx, d);
}

/**
 * vfio_pci_runtime_pm_entry: vfio_pci_zap_and_down_write_memory_lock (the zap path took the lock
 * and ran the notifiers; the PTEs go here) and vfio_pci_dma_buf_move(vdev, true) (the zap path), then `if (vdev->pm_runtime_engaged) {
 * up_write(&vdev->memory_lock); return -EINVAL; }`, then `vdev->pm_runtime_engaged = true;`.
 */
function pmEntry(tx: Tx, d: Device): Outcome {
  zapBars(tx, d); // vfio_pci_zap_and_down_write_memory_lock -> vfio_pci_zap_bars
  assertHeld(tx, lockOf.memory(d.name), `${d.name}'s pm_runtime_engaged`, 'write'); // vfio_pci_runtime_pm_entry: "The vdev power related flags are protected with 'memory_lock'"
  if (d.pmRuntimeEngaged) return tx.fail('EINVAL', 'vfio_pci_core.c:vfio_pci_runtime_pm_entry: vdev->pm_runtime_engaged');
  d.pmRuntimeEngaged = true;
  tx.emit('pm.runtime', { device: d.name, engaged: true });
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_runtime_pm_entry: pm_runtime_engaged = true' };
}

/**
 * vfio_pci_runtime_pm_exit: down_write(&vdev->memory_lock); __vfio_pci_runtime_pm_exit (clears
 * pm_runtime_engaged if set); `if (__vfio_pci_memory_enabled(vdev)) vfio_pci_dma_buf_move(vdev,
 * false);` up_write. Always 0. Also run by vfio_pci_core_disable (the last close).
 */
export function pmExit(tx: Tx, d: Device): Outcome {
  assertHeld(tx, lockOf.memory(d.name), `${d.name}'s pm_runtime_engaged`, 'write'); // vfio_pci_runtime_pm_exit: down_write(&vdev->memory_lock)
  if (d.pmRuntimeEngaged) {
    d.pmRuntimeEngaged = false;
    tx.emit('pm.runtime', { device: d.name, engaged: false });
  }
  if (tx.policy.pfnmap.dmabuf && d.memoryEnabled && d.revoked) {
    d.revoked = false; // vfio_pci_dmabuf.c:vfio_pci_dma_buf_move(vdev, false)
    tx.emit('dmabuf.restored', { device: d.name });
  }
  return { ret: 0n, decidedBy: 'vfio_pci_core.c:vfio_pci_core_pm_exit -> vfio_pci_runtime_pm_exit' };
}
