/**
 * The `sysfs` stimulus (src/kernel/drivers/pci-sysfs.ts): the PCI device attributes the model knows
 * answer as their kernel functions do, each takes device_lock (so it waits while a driver's
 * remove holds it), and an attribute the model does not know is bad input naming its field.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseLog } from '../../src/log/reader.js';
import { blockedOn, describeBlock } from '../../src/run/engine.js';
import { Replay } from '../../src/run/replay.js';
import { DEV, GROUP, MDEV, PID, jsonl, prefix, probe, type Rec } from './helpers.js';

const sysfs = (attr: string, extra: Rec = {}): Rec => ({ op: 'sysfs', pid: PID, device: DEV, attr, ...extra });

/** The prefix with the device declared with `fields` (e.g. an SR-IOV PF). */
function declared(fields: Rec): Rec[] {
  const recs = prefix({ openDevice: true, mmapLength: 0n });
  recs[0] = { ...recs[0], ...fields };
  return recs;
}

describe('sysfs attributes', () => {
  it('reads sriov_numvfs of an SR-IOV physical function (sriov_numvfs_show): no VFs', () => {
    expect(probe([...declared({ sriov: true }), sysfs('sriov_numvfs')]).last).toMatchObject({ ret: 0n, out: { value: '0' }, decidedBy: 'drivers/pci/iov.c:sriov_numvfs_show' });
  });

  it('has no sriov_numvfs on a device that is not a PF (sriov_attrs_are_visible): ENOENT', () => {
    expect(probe([...declared({}), sysfs('sriov_numvfs')]).last).toMatchObject({ errno: 'ENOENT' });
  });

  it('writes sriov_numvfs 0 as a no-op under device_lock (sriov_numvfs_store)', () => {
    expect(probe([...declared({ sriov: true }), sysfs('sriov_numvfs', { write: true })]).last).toMatchObject({ ret: 0n, decidedBy: 'drivers/pci/iov.c:sriov_numvfs_store' });
  });

  it('refuses to open the write-only reset for reading (kernfs_fop_open): EACCES', () => {
    expect(probe([...declared({}), sysfs('reset')]).last).toMatchObject({ errno: 'EACCES' });
  });

  it('resets the function on a write of reset (reset_store -> pci_reset_function)', () => {
    expect(probe([...declared({}), sysfs('reset', { write: true })]).last).toMatchObject({ ret: 0n, decidedBy: 'drivers/pci/pci-sysfs.c:reset_store -> pci.c:pci_reset_function' });
  });

  it('reads an unset driver_override as (null) and writes it', () => {
    expect(probe([...declared({}), sysfs('driver_override')]).last).toMatchObject({ ret: 0n, out: { value: '(null)' } });
    expect(probe([...declared({}), sysfs('driver_override', { write: true })]).last).toMatchObject({ ret: 0n });
  });

  it('finds no PCI attributes on a mediated device: ENOENT', () => {
    expect(probe([{ op: 'host.mdev', device: MDEV, group: 100 }, { op: 'process.spawn', pid: PID }, { op: 'sysfs', pid: PID, device: MDEV, attr: 'driver_override' }]).last).toMatchObject({ errno: 'ENOENT' });
  });
});

describe('sysfs attributes take device_lock', () => {
  /** The device fd open, an unbind task in flight, then the sysfs access in a task of its own. */
  function whileUnbinding(attr: string, write: boolean): Replay {
    const records = [...declared({ sriov: true }), { op: 'device.unbind', device: DEV, task: 'unbind' }, { ...sysfs(attr, { write }), task: 'user' }, { op: 'step', task: 'unbind' }];
    const { header, items } = parseLog(jsonl({ format: 'iommu-model/1' }, records), 'sysfs.jsonl');
    const r = new Replay(header, 'sysfs.jsonl');
    for (const item of items) r.push(item);
    return r;
  }

  for (const [attr, write] of [['sriov_numvfs', false], ['sriov_numvfs', true], ['driver_override', false], ['driver_override', true], ['reset', true]] as const) {
    it(`waits for the device_lock an unbind holds across the driver's remove (${attr}, ${write ? 'write' : 'read'})`, () => {
      const r = whileUnbinding(attr, write);
      const b = blockedOn(r.world, r.scheme, r.world.tasks.get('user')!);
      expect(b).not.toBeNull();
      expect(describeBlock(r.world, b!)).toBe(`device_lock#${DEV} (write), held by unbind`);
    });
  }

  it('does not wait when the access fails before its show or store (a read of reset)', () => {
    const r = whileUnbinding('reset', false);
    expect(blockedOn(r.world, r.scheme, r.world.tasks.get('user')!)).toBeNull();
  });
});

describe('a sysfs attribute the model does not know', () => {
  it('is bad input naming line and field (exit 2), not an errno', async () => {
    const recs = [{ format: 'iommu-model/1' }, { op: 'host.device', device: DEV, group: GROUP }, { op: 'process.spawn', pid: PID }, sysfs('sriov_numvf')];
    const file = join(mkdtempSync(join(tmpdir(), 'iommu-model-')), 'log.jsonl');
    writeFileSync(file, `${recs.map((l) => JSON.stringify(l)).join('\n')}\n`);
    let out = '';
    let err = '';
    const code = await main(['replay', file], { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false });
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(`${file}:4: field 'attr': unknown sysfs attribute "sriov_numvf"`);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('is bad input in a scenario too, when its task reaches it', () => {
    const records = [...declared({}), { ...sysfs('numvfs'), task: 'user' }];
    const { header, items } = parseLog(jsonl({ format: 'iommu-model/1' }, records), 'bad.jsonl');
    const r = new Replay(header, 'bad.jsonl');
    expect(() => {
      for (const item of items) r.push(item);
      r.finish();
    }).toThrow(/:9: field 'attr': unknown sysfs attribute "numvfs"/);
  });
});
