/**
 * The reader against hostile input (issue 9): nesting, prototype keys, JSON.parse failures,
 * UTF-8, the byte order mark, CRLF and the shape of u64 text. Every error is an InputError
 * naming line and field.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../src/vocab/errors.js';
import { LogReader, parseLog } from '../../src/log/reader.js';
import { MAX_DEPTH, own } from '../../src/log/json.js';
import { u64Text } from '../../src/log/u64.js';
import { replayItems } from '../../src/run/replay.js';
import { errorOf } from './error-of.js';

const H = '{"format":"iommu-model/1"}';


const nested = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('nesting', () => {
  it(`accepts a record ${MAX_DEPTH} arrays and objects deep, itself included`, () => {
    expect(() => parseLog(`${H}\n{"op":"exit","pid":1,"expect":{"out":{"x":${nested(MAX_DEPTH - 3)}}}}`)).not.toThrow();
  });

  it.each([
    ['expect.out', `{"op":"exit","pid":1,"expect":{"out":{"x":${nested(6000)}}}}`, 'expect.out.x[0]'],
    ['an ioctl arg', `{"op":"ioctl","pid":1,"fd":3,"cmd":"VFIO_SET_IOMMU","arg":${nested(6000)}}`, 'arg[0]'],
    ['a comment', `{"op":"exit","pid":1,"comment":${nested(6000)}}`, 'comment[0]'],
    ['a derived record', `{"op":"exit","pid":1}\n{"op":"state","cause":2,"id":1,"object":${nested(6000)}}`, 'object[0]'],
  ])('rejects %s nested 6000 deep as bad input naming the field, in a message of one short line', (_what, body, field) => {
    const e = errorOf(`${H}\n${body}`);
    expect(e.field?.startsWith(field)).toBe(true);
    expect(e.detail).toBe(`nested deeper than ${MAX_DEPTH} arrays and objects`);
    expect(e.message.length).toBeLessThan(400);
  });

  it('rejects a header nested too deep, naming line 1 and the field', () => {
    const e = errorOf(`{"format":"iommu-model/1","violations":${nested(6000)}}`);
    expect([e.line, e.field?.startsWith('violations[0]')]).toEqual([1, true]);
  });

  it('is measured without recursion: a million levels are one input error, not a stack overflow', () => {
    expect(errorOf(`${H}\n{"op":"exit","pid":1,"comment":${nested(1_000_000)}}`).detail).toContain('nested deeper');
  });
});

describe('prototype keys', () => {
  it("refuses the campaign's record: constructor, __proto__ and toString are unknown fields", () => {
    const e = errorOf(`${H}\n{"op":"exit","pid":42,"constructor":{"x":1},"__proto__":1,"toString":"junk"}`);
    expect([e.line, e.detail]).toEqual([2, 'unknown field']);
    expect(e.field).toBe('__proto__');
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'])('refuses %s on a stimulus as an unknown field', (k) => {
    const e = errorOf(`${H}\n{"op":"exit","pid":1,"${k}":1}`);
    expect([e.field, e.detail]).toEqual([k, "unknown field for op 'exit'"]);
  });

  it.each(['constructor', 'toString', '__proto__'])('refuses %s in the header', (k) => {
    expect(errorOf(`{"format":"iommu-model/1","${k}":"x"}`).field).toBe(k);
  });

  it.each([
    ['in expect', `{"op":"exit","pid":1,"expect":{"constructor":1}}`, 'expect.constructor'],
    ['in a BAR', `{"op":"host.device","device":"d","group":1,"bars":[{"index":0,"phys":"0x0","size":"0x1000","toString":1}]}`, 'bars[0].toString'],
    ['in a reserved region', `{"op":"host.iommu","resv":[{"start":"0x0","end":"0x1","type":"msi","valueOf":1}]}`, 'resv[0].valueOf'],
    ['__proto__ in an ioctl arg', `{"op":"ioctl","pid":1,"fd":3,"cmd":"VFIO_GROUP_GET_STATUS","arg":{"__proto__":{"x":1}}}`, 'arg.__proto__'],
    ['__proto__ in expect.out', `{"op":"exit","pid":1,"expect":{"out":{"__proto__":{}}}}`, 'expect.out.__proto__'],
  ])('refuses a prototype key %s', (_what, body, field) => {
    const e = errorOf(`${H}\n${body}`);
    expect(e.field).toBe(field);
    expect(e.detail).toMatch(/^unknown (field|expectation)/);
  });

  it('a field the op needs is found only as an own property', () => {
    // "constructor" is not one of exit's fields, and `pid in rec` must not see Object.prototype.
    expect(errorOf(`${H}\n{"op":"exit"}`).detail).toBe("missing (op 'exit' needs it)");
    expect(own({}, 'constructor')).toBeUndefined();
    expect(own(JSON.parse('{"__proto__":5}') as object, '__proto__')).toBe(5);
  });

  it('compares expect.out keys with the outcome\'s own keys only', () => {
    // process.spawn has no `out`; an expectation naming toString must diverge, not match a function.
    const { header, items } = parseLog(`${H}\n{"op":"process.spawn","pid":1}\n{"op":"open","pid":1,"path":"/dev/vfio/vfio"}\n{"op":"ioctl","pid":1,"fd":3,"cmd":"VFIO_GET_API_VERSION","expect":{"out":{"toString":{}}}}`);
    expect(replayItems(header, items).report.divergences).toHaveLength(1);
  });
});

describe('JSON.parse', () => {
  it('any failure is bad input naming the line, with the message on one line', () => {
    const e = errorOf(`${H}\n{"op":"exit","pid":\u001b}`);
    expect([e.line, e.field]).toEqual([2, null]);
    expect(e.detail).toContain('not valid JSON');
    expect(e.message).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('bytes: UTF-8, the byte order mark, CRLF', () => {
  const bytes = (...parts: Array<string | number[]>): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : p)));

  it.each([
    ['a stray byte', [0xff]],
    ['a truncated sequence', [0xc3]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses %s naming the line (a lenient decoder would make "a\\xff" and "a\\xfe" one name)', (_what, bad) => {
    const r = new LogReader('x.jsonl');
    r.pushBytes(bytes(H));
    let err: unknown;
    try {
      r.pushBytes(bytes('{"op":"host.device","device":"a', bad, '","group":1}'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect([(err as InputError).line, (err as InputError).detail]).toEqual([2, 'not valid UTF-8']);
  });

  it('accepts valid UTF-8 beyond ASCII as is', () => {
    const r = new LogReader('x.jsonl');
    r.pushBytes(bytes(H));
    const it = r.pushBytes(bytes('{"op":"exit","pid":1,"comment":"é€😀"}'));
    expect(it?.kind === 'stimulus' && it.stimulus.comment).toBe('é€😀');
  });

  it('drops a byte order mark opening line 1, and refuses one anywhere else', () => {
    const r = new LogReader('x.jsonl');
    expect(r.pushBytes(bytes([0xef, 0xbb, 0xbf], H))?.kind).toBe('header');
    expect(() => r.pushBytes(bytes([0xef, 0xbb, 0xbf], '{"op":"exit","pid":1}'))).toThrow(/x\.jsonl:2: not valid JSON/);
    expect(parseLog(`\ufeff${H}`).header.format).toBe('iommu-model/1');
  });

  it('accepts CRLF line ends, numbering lines as LF does', () => {
    const { items } = parseLog(`${H}\r\n\r\n{"op":"exit","pid":1}\r\n`);
    expect(items.map((i) => i.kind === 'stimulus' && i.stimulus.line)).toEqual([3]);
  });
});

describe('u64 text', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['0x0', 0n],
    ['0xffffffffffffffff', (1n << 64n) - 1n],
    ['0x00000000fee00000', 0xfee00000n],
    [`0x${'0'.repeat(100)}1`, 1n],
    ['0', 0n],
    ['18446744073709551615', (1n << 64n) - 1n],
  ])('reads %s', (s, v) => {
    expect(u64Text(s)).toBe(v);
  });

  it.each([
    ['0x10000000000000000', 'range'],
    ['18446744073709551616', 'range'],
    ['9'.repeat(21), 'range'],
    ['0100', null],
    ['00', null],
    ['0X10', null],
    ['', null],
    ['0x', null],
    [' 1', null],
    ['1e3', null],
  ])('refuses %s (%s)', (s, why) => {
    expect(u64Text(s)).toBe(why);
  });

  it('checks the length before BigInt: a long decimal string never reaches BigInt', () => {
    const spy = vi.spyOn(globalThis, 'BigInt');
    const e = errorOf(`${H}\n{"op":"munmap","pid":1,"addr":"${'9'.repeat(100_000)}","length":"0x1000"}`);
    expect(e.detail).toMatch(/is above 2\^64-1$/);
    expect(spy.mock.calls.filter(([a]) => typeof a === 'string' && a.length > 20)).toEqual([]);
  });

  it('refuses a decimal with a leading zero (C would read it as octal)', () => {
    const e = errorOf(`${H}\n{"op":"munmap","pid":1,"addr":"0100","length":"0x1000"}`);
    expect([e.field, e.detail]).toEqual(['addr', '"0100" is not a u64 (use "0x..." hex, or decimal digits without a leading zero)']);
  });
});
