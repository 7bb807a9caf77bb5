/**
 * The `sysfs` stimulus: a process reads or writes an attribute of a PCI device under
 * /sys/bus/pci/devices/<bdf>/ (drivers/pci/pci-sysfs.c, drivers/pci/iov.c). The model knows the
 * attributes below, each with the kernel function behind its read and its write; docs/model.md
 * lists them. All of them take the device's device_lock, so each blocks while the driver core
 * holds it across a driver's remove (an unbind or hot-remove waiting in
 * vfio_unregister_group_dev).
 *
 * The value a write stores is not modelled: a write of `reset` stores "1", of `sriov_numvfs`
 * "0" (no VFs are ever enabled), of `driver_override` a name that only later binds would read.
 */

import { deviceOf, processOf } from '../../core/lookup.js';
import { Tx, type Outcome } from '../../core/tx.js';
import type { Device, World } from '../../core/world.js';
import { BadReference, showValue } from '../../vocab/errors.js';
import { lockOf, writeLock, type LockUse } from '../../vocab/locks.js';
import type { StimulusOf } from '../../vocab/records.js';

interface Access {
  /** The kernel function of the access (file.c:function), for the outcome's decidedBy. */
  readonly mirrors: string;
  /** The locks it takes, in the kernel's order. */
  locks(d: Device): LockUse[];
  /** What a read returns (sysfs_emit's text without the newline). */
  readonly value?: string;
}

interface Attr {
  /** The attribute group's is_visible: false hides the file (the open fails with ENOENT). */
  readonly visible: (d: Device) => boolean;
  readonly show?: Access;
  readonly store?: Access;
}

const deviceLock = (d: Device): LockUse[] => [writeLock(lockOf.device(d.name))];

const ATTRS: Readonly<Record<string, Attr>> = {
  /**
   * pci-sysfs.c: `static DEVICE_ATTR_WO(reset)`, visible when pci_reset_supported
   * (pci_dev_reset_attr_is_visible: `if (!pci_reset_supported(pdev)) return 0;`; a `host.device`
   * with `reset: false` has no reset method). reset_store:
   * kstrtoul, `if (val != 1) return -EINVAL;`, pci_reset_function: pci_dev_lock(bridge) (no
   * bridge in the model), pci_dev_lock(dev) = device_lock + pci_cfg_access_lock,
   * pci_dev_save_and_disable, __pci_reset_function_locked (in a hotplug slot the model's reset
   * is the slot reset, pciehp_reset_slot: reset_lock for write), pci_dev_restore. vfio-pci is
   * not told: the saved config state, memory decode included, is restored.
   */
  reset: {
    visible: (d) => d.resetWorks,
    store: {
      mirrors: 'drivers/pci/pci-sysfs.c:reset_store -> pci.c:pci_reset_function',
      locks: (d) => [...deviceLock(d), ...(d.hotplug ? [writeLock(lockOf.reset(d.name))] : [])],
    },
  },
  /**
   * pci-sysfs.c: `static DEVICE_ATTR_RW(driver_override)` in pci_dev_attrs (always visible).
   * driver_override_show: device_lock(dev), sysfs_emit("%s\n", pdev->driver_override),
   * device_unlock (NULL prints "(null)"). driver_override_store -> drivers/base/driver.c
   * driver_set_override: kstrndup, device_lock(dev), swap the string, device_unlock.
   */
  driver_override: {
    visible: () => true,
    show: { mirrors: 'drivers/pci/pci-sysfs.c:driver_override_show', locks: deviceLock, value: '(null)' },
    store: { mirrors: 'drivers/pci/pci-sysfs.c:driver_override_store -> drivers/base/driver.c:driver_set_override', locks: deviceLock },
  },
  /**
   * iov.c: `static DEVICE_ATTR_RW(sriov_numvfs)`, visible on a PF only (sriov_attrs_are_visible:
   * `if (!dev_is_pf(dev)) return 0;`). sriov_numvfs_show: "Serialize vs sriov_numvfs_store()
   * so readers see valid num_VFs": device_lock(&pdev->dev), read num_VFs, device_unlock.
   * sriov_numvfs_store of 0: kstrtou16, `num_vfs > pci_sriov_get_totalvfs` (no),
   * device_lock(&pdev->dev), `if (num_vfs == pdev->sriov->num_VFs) goto exit;`, device_unlock.
   */
  sriov_numvfs: {
    visible: (d) => d.sriov,
    show: { mirrors: 'drivers/pci/iov.c:sriov_numvfs_show', locks: deviceLock, value: '0' },
    store: { mirrors: 'drivers/pci/iov.c:sriov_numvfs_store', locks: deviceLock },
  },
};

export const SYSFS_ATTRS: readonly string[] = Object.keys(ATTRS);

function attrOf(s: StimulusOf<'sysfs'>): Attr {
  const a = Object.prototype.hasOwnProperty.call(ATTRS, s.attr) ? ATTRS[s.attr] : undefined;
  if (a === undefined) throw new BadReference('attr', `unknown sysfs attribute ${showValue(s.attr)} (the model knows ${SYSFS_ATTRS.join(', ')}; docs/model.md)`);
  return a;
}

/**
 * The access a stimulus makes, or the errno that stops it before the attribute's show/store
 * runs: an mdev has no /sys/bus/pci/devices entry and a hidden attribute no file (ENOENT);
 * fs/kernfs/file.c:kernfs_fop_open, under sysfs's KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK
 * (fs/sysfs/mount.c sysfs_init), refuses a read of a file without show and a write of one
 * without store (EACCES).
 */
function accessOf(d: Device, a: Attr, write: boolean): Access | { errno: 'ENOENT' | 'EACCES'; check: string } {
  if (d.mdev) return { errno: 'ENOENT', check: 'fs/namei.c: an mdev has no /sys/bus/pci/devices entry' };
  if (!a.visible(d)) return { errno: 'ENOENT', check: "fs/sysfs/group.c: the attribute group's is_visible hid the file" };
  const acc = write ? a.store : a.show;
  if (acc === undefined) return { errno: 'EACCES', check: `fs/kernfs/file.c:kernfs_fop_open: the attribute has no ${write ? 'store' : 'show'}` };
  return acc;
}

/** The locks the access takes (none when it fails before its show/store, or names nothing). */
export function sysfsLocks(w: World, s: StimulusOf<'sysfs'>): LockUse[] {
  const a = Object.prototype.hasOwnProperty.call(ATTRS, s.attr) ? ATTRS[s.attr] : undefined;
  const d = w.devices.get(s.device);
  if (a === undefined || d === undefined) return [];
  const acc = accessOf(d, a, s.write === true);
  return 'errno' in acc ? [] : acc.locks(d);
}

/** The rule: checks in the order the VFS meets them, then the attribute's show or store. */
export function sysfs(tx: Tx, s: StimulusOf<'sysfs'>): Outcome {
  processOf(tx.world, s.pid);
  const a = attrOf(s);
  const d = deviceOf(tx.world, s.device);
  const acc = accessOf(d, a, s.write === true);
  if ('errno' in acc) return tx.fail(acc.errno, acc.check);
  // the locks (src/kernel/entry.ts) are held around this step; nothing the model tracks changes
  return { ret: 0n, ...(acc.value === undefined ? {} : { out: { value: acc.value } }), decidedBy: acc.mirrors };
}
