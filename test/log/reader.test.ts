import { describe, expect, it } from 'vitest';
import { parseLog } from '../../src/log/reader.js';
import { releaseOf } from '../../src/vocab/releases.js';
import { errorOf } from './error-of.js';

const H = '{"format":"iommu-model/1"}';


function munmapAddr(addr: unknown): unknown {
  const { items } = parseLog(`${H}\n${JSON.stringify({ op: 'munmap', pid: 1, addr, length: '0x1000' })}`);
  const it = items[0]!;
  return it.kind === 'stimulus' && it.stimulus.op === 'munmap' ? it.stimulus.addr : undefined;
}

describe('u64 values', () => {
  it('reads hex strings, decimal strings and safe integers as exact bigints', () => {
    expect(munmapAddr('0xffffffffffffffff')).toBe((1n << 64n) - 1n);
    expect(munmapAddr('4096')).toBe(4096n);
    expect(munmapAddr(4096)).toBe(4096n);
  });

  it.each([
    ['0x10000000000000000', 'is above 2^64-1'],
    [-1, 'is negative'],
    [1.5, 'is not a safe integer'],
    [2 ** 60, 'is not a safe integer'],
    ['0x', 'is not a u64'],
    ['-5', 'is not a u64'],
    [true, 'expected a u64'],
  ])('rejects %s naming line and field', (addr, why) => {
    const e = errorOf(`${H}\n${JSON.stringify({ op: 'munmap', pid: 1, addr, length: '0x1000' })}`);
    expect([e.line, e.field]).toEqual([2, 'addr']);
    expect(e.detail).toContain(why);
  });
});

describe('records', () => {
  it('numbers records by line unless they carry seq, and skips blank lines', () => {
    const { items } = parseLog(`${H}\n\n{"op":"exit","pid":1}\n{"op":"exit","pid":2,"seq":10}\n`);
    expect(items.map((i) => (i.kind === 'stimulus' ? i.stimulus.seq : -1))).toEqual([3, 10]);
  });

  it.each([
    [`{"op":"exit"}`, 2, 'pid', "missing (op 'exit' needs it)"],
    [`{"op":"exit","pid":"1"}`, 2, 'pid', 'expected a non-negative integer'],
    [`{"op":"exit","pid":1,"colour":"red"}`, 2, 'colour', "unknown field for op 'exit'"],
    [`{"op":"fly","pid":1}`, 2, 'op', 'unknown op "fly"'],
    [`{"pid":1}`, 2, 'op', 'missing'],
    [`[1,2]`, 2, null, 'a record must be a JSON object'],
    [`{"op":"exit",`, 2, null, 'not valid JSON'],
    [`{"op":"exit","pid":1,"seq":5}\n{"op":"exit","pid":2,"seq":5}`, 3, 'seq', 'does not increase'],
    [`{"op":"exit","pid":1,"expect":{"errno":"EWHATEVER"}}`, 2, 'expect.errno', 'unknown errno'],
    [`{"op":"exit","pid":1,"expect":{"ret":0,"errno":"EINVAL"}}`, 2, 'expect', 'exclude each other'],
    [`{"op":"mmap","pid":1,"length":"0x1000","prot":["EXEC"]}`, 2, 'prot', 'unknown protection'],
    [`{"op":"exit","pid":1}\n{"op":"state","cause":9,"id":1}`, 3, 'cause', 'follows record 2'],
    [`{"op":"exit","pid":1,"task":"t","on_error":"ignore"}`, 2, 'on_error', 'expected one of "stop", "continue", got "ignore"'],
    [`{"op":"exit","pid":1,"task":"t","on_error":true}`, 2, 'on_error', 'expected one of "stop", "continue"'],
    [`{"op":"step","task":"t","on_error":"continue"}`, 2, 'on_error', 'on_error belongs on the stimulus'],
  ])('rejects %s at line %i, field %s', (body, line, field, why) => {
    const e = errorOf(`${H}\n${body}`);
    expect([e.line, e.field]).toEqual([line, field]);
    expect(e.detail).toContain(why);
  });

  it('requires the header first, and only once', () => {
    expect(errorOf('{"op":"exit","pid":1}').field).toBe('format');
    expect(errorOf(`${H}\n${H}`).detail).toContain('a second header');
    expect(errorOf('{"format":"iommu-model/2"}').detail).toContain('unsupported format');
    expect(errorOf('').detail).toContain('empty log');
  });

  it('reads on_error as stop or continue on any stimulus, and leaves it absent by default', () => {
    const { items } = parseLog(`${H}\n{"op":"exit","pid":1,"task":"t","on_error":"continue"}\n{"op":"close","pid":1,"fd":3,"on_error":"stop"}\n{"op":"exit","pid":2}`);
    expect(items.map((i) => (i.kind === 'stimulus' ? i.stimulus.on_error : null))).toEqual(['continue', 'stop', undefined]);
  });

  it('attaches derived records to the stimulus they follow', () => {
    const { items } = parseLog(`${H}\n{"op":"exit","pid":1,"seq":4}\n{"op":"state","cause":4,"id":1,"object":"process:1"}`);
    expect(items.map((i) => i.kind)).toEqual(['stimulus', 'derived']);
  });
});

describe("the header's kernel release", () => {
  it('absent: the header carries none and the log models the latest release, v6.18', () => {
    const { header } = parseLog(H);
    expect(header.kernel).toBeUndefined();
    expect(releaseOf(header).name).toBe('6.18');
  });

  it('an earlier release the model knows is kept as written', () => {
    const { header } = parseLog('{"format":"iommu-model/1","scheme":"upstream","kernel":"6.5"}');
    expect(header.kernel).toBe('6.5');
    expect(releaseOf(header).has('sva-core-pasid')).toBe(false);
    expect(releaseOf(header).has('sva-pasid-ida')).toBe(true);
  });

  it.each([['"7.0"'], ['"5.18"'], ['"v6.18"'], ['6.18'], ['"6.18.1"']])('rejects kernel %s naming line 1, the field and the known releases', (v) => {
    const e = errorOf(`{"format":"iommu-model/1","kernel":${v}}`);
    expect([e.line, e.field]).toEqual([1, 'kernel']);
    expect(e.detail).toContain('unknown kernel release');
    expect(e.detail).toContain('5.19, 6.0, 6.1, 6.2, 6.3, 6.4');
    expect(e.detail).toContain('6.17, 6.18');
  });

  it.each(['sva.bind', 'sva.unbind', 'device.page_request', 'device.stop_pasid'])('refuses %s in a log of a kernel before v6.2 (the model mirrors SVA from v6.2), naming the line and the field op', (op) => {
    const fields: Record<string, string> = {
      'sva.bind': '"device":"d","pid":1',
      'sva.unbind': '"device":"d","pid":1',
      'device.page_request': '"device":"d","pasid":1,"addr":"0x0"',
      'device.stop_pasid': '"device":"d","pasid":1',
    };
    const rec = `{"op":"${op}",${fields[op]}}`;
    const e = errorOf(`{"format":"iommu-model/1","kernel":"6.1"}\n${rec}`);
    expect([e.line, e.field]).toEqual([2, 'op']);
    expect(e.detail).toContain('needs kernel 6.2 or later');
    expect(e.detail).toContain('"kernel":"6.1"');
    expect(() => parseLog(`{"format":"iommu-model/1","kernel":"6.2"}\n${rec}`)).not.toThrow();
  });
});
