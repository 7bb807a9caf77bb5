/**
 * `inspect <log>`: commands piped on stdin, answered from the timeline built once
 * (docs/navigation.md). The session moves back and forth and shows each record's changes.
 */
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.js';

async function inspect(file: string, commands: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  async function* lines(): AsyncIterable<string> {
    yield* commands;
  }
  const io: Io = { stdout: (s) => (out += s), stderr: (s) => (err += s), isTTY: false, stdinLines: lines() };
  const code = await main(['inspect', file], io);
  return { code, out, err };
}

const VM = 'test/fixtures/vm-lifecycle.jsonl';

describe('inspect', () => {
  it('at, prev and next move through the records and print what each changed', async () => {
    const r = await inspect(VM, ['at 19', 'prev', 'next 2']);
    expect(r.code).toBe(0);
    const [, at19, prev, next] = r.out.split(/^(?=at )/m);
    expect(at19).toMatch(/^at record 19 ioctl \(line 19\).*\n(.*\n)*\s+\+ vfio_dma:5@0x0 created/);
    expect(prev).toMatch(/^at record 18 mmap \(line 18\)/);
    expect(prev).toContain('+ vma:1@0x7f0000400000 created');
    expect(next).toMatch(/^at record 20 ioctl/);
    expect(next).toContain('+ vfio_dma:5@0x200000 created');
  });

  it('world shows the state at the current record, not the last', async () => {
    const r = await inspect(VM, ['at 19', 'world', 'at 27', 'world']);
    // each answer starts at a line that is not indented
    const [w19, w27] = r.out.split(/^(?=\S)/m).filter((x) => x.startsWith('after record '));
    expect(w19).toContain('vfio_dma:5@0x0');
    expect(w19).not.toContain('vfio_dma:5@0x200000');
    expect(w27).not.toContain('vfio_dma:5@0x200000');
  });

  it('diff, grep, follow and why answer as replay does; quit ends the session', async () => {
    const r = await inspect(VM, ['diff 26 27', 'grep iova=0x201000', 'follow vfio_dma:5@0x200000', 'why 27.3', 'quit', 'at 3']);
    expect(r.out).toContain('- vfio_dma:5@0x200000 removed');
    expect(r.out).toContain('derived 27.3 iommu.unmapped');
    expect(r.out).toContain('vfio_dma:5@0x200000: 2 transitions');
    expect(r.out).toMatch(/27\.3 iommu\.unmapped container=5 iova=0x200000 size=0x200000\n(.*\n)*\s+because 27 ioctl/);
    expect(r.out).not.toContain('at record 3 ');
  });

  it('a bad command prints one error line and the session goes on', async () => {
    const r = await inspect(VM, ['at 999', 'frobnicate', 'next x', 'at 4']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('error: no record with seq 999');
    expect(r.out).toContain('error: unknown command "frobnicate"');
    expect(r.out).toContain('error: expected a positive count');
    expect(r.out).toMatch(/at record 4 /);
  });

  it('a bad log is exit 2 before any command', async () => {
    const r = await inspect('test/fixtures/no-such.jsonl', ['at 1']);
    expect(r.code).toBe(2);
  });
});
