import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const dir = 'test/fixtures/lockdep';
const mdev = `${dir}/synthetic-mdev-device-list-lock.txt`;

describe('iommu-model lockdep', () => {
  it("finds the mdev device_list_lock cycle under upstream, names the scenario and the command, and prints the model's cycle", async () => {
    const r = await run('lockdep', mdev);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^FOUND: every dependency of the cycle is in the model under upstream; scenario mdev-unmap-vs-unmap/m);
    expect(r.out).toMatch(/&iommu->device_list_lock -> &iommu->lock: found in mdev-unmap-vs-unmap, task a at\s+unmap_dma\.callback/);
    expect(r.out).toContain('Possible unsafe locking scenario');
    expect(r.out).toContain('See it: npx iommu-model check --scenario mdev-unmap-vs-unmap');
    for (const line of r.out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('does not find it under mdev-notify-unlocked, the fix, and names the missing dependency (exit 1)', async () => {
    const r = await run('lockdep', mdev, '--scheme', 'mdev-notify-unlocked');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/&iommu->lock -> &iommu->device_list_lock: MISSING from the model under mdev-notify-unlocked/);
    expect(r.out).toMatch(/^NOT FOUND: missing from the model under mdev-notify-unlocked/m);
  });

  it("lists a real report's classes the model lacks (KVM, irqbypass) and the one dependency it has, with its kernel path", async () => {
    const r = await run('lockdep', `${dir}/kvm-irqbypass-memory-lock-2020.txt`, '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as { found: boolean; edges: Array<{ from: string; to: string; status: string; witnesses: Array<{ scenario: string; function?: string }> }>; classes: Array<{ printed: string; model: string | null; note?: string }> };
    expect(doc.found).toBe(false);
    const byPair = new Map(doc.edges.map((e) => [`${e.from} -> ${e.to}`, e]));
    const fault = byPair.get('&mm->mmap_sem -> &vdev->memory_lock')!;
    expect(fault.status).toBe('found');
    expect(fault.witnesses[0]!.function).toMatch(/vfio_pci_mmap_huge_fault/);
    expect(byPair.get('lock#7 -> &kvm->lock')!.status).toBe('unmodelled');
    expect(doc.classes.find((c) => c.printed === '&kvm->lock')).toMatchObject({ model: null, note: 'KVM is not modelled' });
    expect(doc.classes.find((c) => c.printed === '&mm->mmap_sem')!.model).toBe('mmap_lock');
  });

  it('says a recursive-locking report has no cycle to look for (exit 1)', async () => {
    const r = await run('lockdep', `${dir}/pci-bus-sem-recursive-2023.txt`);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/NOT FOUND: a recursive acquisition of one class/);
    expect(r.out).toMatch(/&dev->mutex: modelled/);
  });

  it('exits 2 with one line naming the file when the text is not a lockdep report', async () => {
    const d = mkdtempSync(join(tmpdir(), 'lockdep-'));
    const f = join(d, 'oops.txt');
    writeFileSync(f, '[   1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n');
    const r = await run('lockdep', f);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('oops.txt');
    expect(r.out).toBe('');
  });
});
