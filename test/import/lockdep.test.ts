import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLockdep, stripPrefix } from '../../src/import/lockdep.js';
import { classOf, CLASS_TABLE, unmatchedModelClasses } from '../../src/import/lockdep-classes.js';
import { InputError } from '../../src/vocab/errors.js';

const dir = 'test/fixtures/lockdep';
const read = (name: string) => parseLockdep(readFileSync(`${dir}/${name}`, 'utf8'), name);

describe('lockdep report parser', () => {
  it('reads a circular report: the chain #0..#N, the cycle in dependency order, stacks without lockdep frames', () => {
    const r = read('vfio-vma-lock-hot-reset-2024.txt');
    expect(r.kind).toBe('circular');
    expect(r.kernel).toBe('6.9.0-rc5+');
    expect(r.task).toEqual({ comm: 'CPU 0/KVM', pid: 4113 });
    expect(r.lock.printed).toBe('&vdev->vma_lock');
    expect(r.lock.at).toBe('vfio_pci_mmap_fault');
    expect(r.holding?.printed).toBe('&mm->mmap_lock');
    expect(r.cycle).toEqual(['&vdev->vma_lock', '&vdev->memory_lock', 'pci_bus_sem', '&mm->mmap_lock']);
    expect(r.chain[0]!.stack[0]).toBe('vfio_pci_mmap_fault');
    expect(r.chain[1]!.stack[0]).toBe('vfio_pci_zap_and_down_write_memory_lock');
    expect(r.chain[3]!.stack[0]).toBe('_copy_to_user');
    expect(r.held.map((h) => h.printed)).toEqual(['&iommu->lock#2', '&mm->mmap_lock']);
    expect(r.held[0]).toMatchObject({ name: '&iommu->lock', version: 2, usage: '+.+.', wait: '4:4', at: 'vfio_dma_do_map' });
  });

  it('strips printk time, CONFIG_PRINTK_CALLER ids, console levels, dmesg -H times, syslog and mail quoting', () => {
    expect(stripPrefix('[17368.321363][T3614103] -> #4 (lock#7){+.+.}-{3:3}:')).toBe('-> #4 (lock#7){+.+.}-{3:3}:');
    expect(stripPrefix('<4>[   13.815380] WARNING: possible recursive locking detected')).toBe('WARNING: possible recursive locking detected');
    expect(stripPrefix('[  +0.000732] WARNING: x')).toBe('WARNING: x');
    expect(stripPrefix('Dec  1 08:35:41 reforged kernel: [ 3052.513931] ====')).toBe('====');
    expect(stripPrefix('2016-03-26T20:52:22.526425+00:00 mira108 kernel: [ INFO: x ]')).toBe('[ INFO: x ]');
    expect(stripPrefix('> >   #1: ffff (&root->kernfs_rwsem){++++}')).toBe('#1: ffff (&root->kernfs_rwsem){++++}');
    expect(stripPrefix('Mar 12 13:09:38 host kernel: ok')).toBe('ok');
  });

  it('reads the PRINTK_CALLER form, the old mmap_sem name and a nameless lock#N', () => {
    const r = read('kvm-irqbypass-memory-lock-2020.txt');
    expect(r.cycle).toEqual(['&kvm->lock', '&vcpu->mutex', '&mm->mmap_sem', '&vdev->memory_lock', 'lock#7']);
    expect(r.chain[4]!.lock).toMatchObject({ name: 'lock', version: 7 });
    expect(r.chain[3]!.stack[0]).toBe('vfio_pci_mmap_fault');
    expect(r.held).toHaveLength(3);
  });

  it('joins a print_lock line a mail client wrapped after "at:" (dmesg -H times)', () => {
    const r = read('vfio-mlx5-state-mutex-2021.txt');
    expect(r.holding).toMatchObject({ printed: '&mm->mmap_lock#2', at: 'vaddr_get_pfns' });
    expect(r.cycle).toEqual(['&vdev->vma_lock', '&vdev->memory_lock', '&mvdev->state_mutex', '&mm->mmap_lock#2']);
    expect(r.held.map((h) => h.at)).toEqual(['vfio_iommu_type1_ioctl', 'vaddr_get_pfns']);
  });

  it('reads a recursive-locking report with its console levels', () => {
    const r = read('pci-bus-sem-recursive-2023.txt');
    expect(r.kind).toBe('recursive');
    expect(r.task).toEqual({ comm: 'swapper/0', pid: 1 });
    expect([r.lock.printed, r.lock.at, r.holding?.at]).toEqual(['pci_bus_sem', 'pci_enable_link_state', 'pci_walk_bus']);
    expect(r.chain).toEqual([]);
    expect(r.held.map((h) => h.printed)).toEqual(['&dev->mutex', 'pci_bus_sem']);
  });

  it('reads an inconsistent-lock-state report: the usage change and the lock taken', () => {
    const r = read('mt76-inconsistent-2020.txt');
    expect(r.kind).toBe('inconsistent');
    expect(r.detail).toBe('{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}');
    expect(r.task).toEqual({ comm: 'rmmod', pid: 1227 });
    expect(r.lock).toMatchObject({ name: '&dev->lock', version: 2, wait: '2:2', at: 'mt76_dma_cleanup' });
    expect(r.held.map((h) => h.printed)).toEqual(['&dev->mutex']);
  });

  it('reads a held-lock-freed report quoted in a mail; an inlined acquisition listed once', () => {
    const r = read('kernfs-held-lock-freed-2021.txt');
    expect(r.kind).toBe('freed');
    expect(r.detail).toBe('ffff88807f06e400-ffff88807f06e5ff');
    expect(r.lock).toMatchObject({ printed: '&root->kernfs_rwsem', at: 'kernfs_remove' });
    expect(r.held.map((h) => h.printed)).toEqual(['cgroup_mutex', '&root->kernfs_rwsem']);
  });

  it('reads the pre-4.15 form: "[ BUG: held lock freed! ]", no address, [<ip>] before the function', () => {
    const text = ['[ 1919.170295] [ BUG: held lock freed! ]', '[ 1919.181280] -------------------------', '[ 1919.192270] umount/6157 is freeing memory d9d49000-d9d49fff, with a lock still held there!', '[ 1919.217046]  (&(&ip->i_iolock)->mr_lock){----}, at: [<e0a99fa2>] xfs_ilock+0x1c/0x68 [xfs]', '[ 1919.242191] 1 lock held by umount/6157:', '[ 1919.253956]  #0:  (&type->s_umount_key#16){----}, at: [<c015381e>] deactivate_super+0x3a/0x51'].join('\n');
    const r = parseLockdep(text, 'old.txt');
    expect(r.kind).toBe('freed');
    expect(r.lock).toMatchObject({ name: '&(&ip->i_iolock)->mr_lock', at: 'xfs_ilock' });
    expect(r.held[0]).toMatchObject({ name: '&type->s_umount_key', version: 16, at: 'deactivate_super' });
  });

  it('refuses a text that holds no lockdep report, and a circular report without its chain, naming the file', () => {
    expect(() => parseLockdep('BUG: unable to handle page fault\n', 'oops.txt')).toThrow(InputError);
    expect(() => parseLockdep('BUG: unable to handle page fault\n', 'oops.txt')).toThrow(/oops\.txt.*not a lockdep report/);
    const cut = readFileSync(`${dir}/vfio-i-mmap-fs-reclaim-2021.txt`, 'utf8').split('\n').slice(0, 12).join('\n');
    expect(() => parseLockdep(cut, 'cut.txt')).toThrow(/cut\.txt.*chain/);
  });
});

describe('lock class table', () => {
  it('names every model class by the name lockdep prints for it', () => {
    expect(unmatchedModelClasses()).toEqual([]);
  });

  it('maps the old and new mm lock names, and says which classes the model does not have', () => {
    expect(classOf('&mm->mmap_sem', '&mm->mmap_sem', []).model).toBe('mmap_lock');
    expect(classOf('&mm->mmap_lock', '&mm->mmap_lock#2', []).model).toBe('mmap_lock');
    expect(classOf('&vdev->vma_lock', '&vdev->vma_lock', []).model).toBeNull();
    expect(classOf('&kvm->lock', '&kvm->lock', []).row?.note).toMatch(/KVM/);
    expect(classOf('&vma->vm_lock->lock', '&vma->vm_lock->lock', []).model).toBeNull();
    expect(classOf('&xyz->lock', '&xyz->lock', [])).toMatchObject({ model: null, row: null });
  });

  it("takes &iommu->lock for type1's only when the report shows it taken in vfio code", () => {
    expect(classOf('&iommu->lock', '&iommu->lock', ['vfio_dma_do_map']).model).toBe('iommu.lock');
    expect(classOf('&iommu->lock', '&iommu->lock', ['amd_iommu_iopf_add_device']).model).toBeNull();
  });

  it('lists each lockdep name once', () => {
    const names = CLASS_TABLE.flatMap((r) => r.names);
    expect(new Set(names).size).toBe(names.length);
  });
});
