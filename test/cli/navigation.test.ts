/**
 * replay --diff, --grep and --follow (docs/navigation.md) on the golden logs: what a kernel
 * engineer asks in a postmortem, answered from the timeline.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../cli-run.js';

const VM = 'test/fixtures/vm-lifecycle.jsonl';
const ZAP = 'test/fixtures/races/p2p-dma-after-zap.jsonl';

describe('replay --diff', () => {
  it('names the objects a MAP_DMA created and the fields it changed, with hex addresses', async () => {
    const r = await run('replay', VM, '--diff', '18', '19');
    expect(r.code).toBe(0);
    expect(r.out).toContain('+ vfio_dma:5@0x0 created');
    expect(r.out).toContain('+ pte:5@0x0 created');
    expect(r.out).toMatch(/~ mm:1\n(.*\n)*\s+locked_vm: 0 -> 512/);
    for (const line of r.out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
  it('--json gives each change with from and to', async () => {
    const r = await run('replay', VM, '--diff', '26', '27', '--json');
    const doc = JSON.parse(r.out) as { changes: Array<{ id: string; change: string }> };
    expect(doc.changes).toContainEqual(expect.objectContaining({ id: 'vfio_dma:5@0x200000', change: 'removed' }));
  });
  it('a seq past the log, one seq, or a bad seq is exit 2 naming --diff', async () => {
    for (const args of [['999', '3'], ['3'], ['3', 'x']]) {
      const r = await run('replay', VM, '--diff', ...args);
      expect(r.code).toBe(2);
      expect(r.err).toContain('--diff');
    }
  });
  it('conflicts with --at, --why, --record and --trace', async () => {
    for (const other of [['--at', '4'], ['--why', '4'], ['--record', '/tmp/x.jsonl'], ['--trace']]) {
      const r = await run('replay', VM, '--diff', '3', '4', ...other);
      expect(r.code).toBe(2);
    }
  });
});

describe('replay --grep', () => {
  it('which record unmapped IOVA 0x201000: the UNMAP_DMA whose range contains it', async () => {
    const r = await run('replay', VM, '--grep', 'iova=0x201000');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/27 ioctl \(line 27\): derived 27\.\d+ iommu\.unmapped: container=5 iova=0x200000 size=0x200000/);
    // an address outside every range touches nothing
    const none = await run('replay', VM, '--grep', 'iova=0x900000');
    expect(none.out).toContain('0 hits');
  });
  it('who held memory_lock at record 21: the zap task, for write', async () => {
    const r = await run('replay', ZAP, '--grep', 'lock=memory_lock@21');
    expect(r.out).toContain('state lock:memory_lock#0000:02:00.0: kind=rwsem writer=zap');
    const after = await run('replay', ZAP, '--grep', 'lock=memory_lock@22');
    expect(after.out).toContain('0 hits');
  });
  it('the records that took and released a lock, by its lockdep name too', async () => {
    const r = await run('replay', ZAP, '--grep', 'lock=&vdev->memory_lock');
    expect(r.out).toContain('21 step zap.enter (line 21): lock:memory_lock#0000:02:00.0 taken');
    expect(r.out).toContain('22 step zap.leave (line 22): lock:memory_lock#0000:02:00.0 released');
  });
  it('vaddr, device and pasid queries', async () => {
    expect((await run('replay', VM, '--grep', 'vaddr=0x7f1000000010')).out).toMatch(/bar\.fault/);
    expect((await run('replay', VM, '--grep', 'device=0000:02:00.0')).out).toMatch(/device\.registered/);
    expect((await run('replay', 'test/fixtures/sva-page-requests.jsonl', '--grep', 'pasid=1')).out).toMatch(/sva\.bound/);
  });
  it('a bad query is exit 2 naming --grep', async () => {
    for (const q of ['iova', 'colour=red', 'iova=zz', 'lock=x@0']) {
      const r = await run('replay', VM, '--grep', q);
      expect(r.code).toBe(2);
      expect(r.err).toContain("'--grep'");
    }
  });
});

describe('replay --follow', () => {
  it("a vfio_dma's lifecycle: created by its MAP_DMA, removed by its UNMAP_DMA", async () => {
    const r = await run('replay', VM, '--follow', 'vfio_dma:5@0x200000');
    expect(r.out.split('\n')[0]).toBe('vfio_dma:5@0x200000: 2 transitions');
    expect(r.out).toContain('20 ioctl (line 20): created: iova 0x200000, size 0x200000');
    expect(r.out).toContain('27 ioctl (line 27): removed (state was mapped)');
  });
  it("a device's state transitions with the field changes", async () => {
    const r = await run('replay', VM, '--follow', 'device:0000:01:00.0', '--json');
    const doc = JSON.parse(r.out) as { transitions: Array<{ seq: number; change: { change: string; fields: Array<{ field: string; from?: unknown; to?: unknown }> } }> };
    expect(doc.transitions[0]!.change.change).toBe('created');
    // each state change starts where the one before ended: a lifecycle, in record order
    let state = doc.transitions[0]!.change.fields.find((f) => f.field === 'state')!.to;
    let changes = 0;
    for (const t of doc.transitions.slice(1)) {
      const f = t.change.fields.find((x) => x.field === 'state');
      if (f === undefined) continue;
      expect(f.from).toBe(state);
      state = f.to;
      changes += 1;
    }
    expect(changes).toBeGreaterThan(1);
  });
  it('an object no record changed is exit 2 naming --follow', async () => {
    const r = await run('replay', VM, '--follow', 'vfio_dma:9@0x0');
    expect(r.code).toBe(2);
    expect(r.err).toContain("'--follow'");
  });
});
