/** Echoes of input values in messages: one line, escaped, cut, and never recursing (issue 9). */
import { describe, expect, it } from 'vitest';
import { clip, InputError, ModelError, oneLine, SHOW_MAX, showValue } from '../../src/vocab/errors.js';

describe('showValue', () => {
  it('renders JSON-ish text', () => {
    expect(showValue({ a: [1, null, true, 'x'], b: { c: 2n } })).toBe('{"a":[1,null,true,"x"],"b":{"c":0x2}}');
    expect([showValue('it"s \\'), showValue(undefined), showValue(-1.5)]).toEqual(['"it\\"s \\\\"', 'undefined', '-1.5']);
  });

  it.each([
    ['a newline', 'a\nb', '"a\\nb"'],
    ['NUL', 'a\u0000b', '"a\\u0000b"'],
    ['ESC', '\u001b[31mred', '"\\u001b[31mred"'],
    ['DEL and C1 CSI', '\u007f\u009b', '"\\u007f\\u009b"'],
    ['the line separators', '\u2028\u2029', '"\\u2028\\u2029"'],
    ['a lone surrogate', 'a\ud800b', '"a\\ud800b"'],
    ['a key', { 'k\n': 1 }, '{"k\\n":1}'],
  ])('escapes %s', (_what, v, shown) => {
    expect(showValue(v)).toBe(shown);
  });

  it('keeps a surrogate pair whole', () => {
    expect(showValue('😀')).toBe('"😀"');
  });

  it(`cuts at ${SHOW_MAX} characters, saying how many more there were, without splitting an escape`, () => {
    const s = showValue('x'.repeat(1000));
    expect(s).toBe(`"${'x'.repeat(SHOW_MAX - 1)}... (802 more characters)`);
    const e = showValue('\u001b'.repeat(100));
    expect(e).toMatch(/^"(\\u001b)+\.\.\. \(\d+ more characters\)$/);
    expect(e.indexOf('...')).toBeLessThanOrEqual(SHOW_MAX);
    const shown = e.slice(0, e.indexOf('...')).length;
    expect(shown + Number(/\((\d+) more/.exec(e)![1])).toBe(2 + 6 * 100);
  });

  it('walks any nesting with its own stack, and marks a cycle', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(showValue(deep)).toBe(`${'['.repeat(SHOW_MAX)}... (399801 more characters)`);
    const cyc: Record<string, unknown> = { a: 1 };
    cyc['self'] = cyc;
    expect(showValue(cyc)).toBe('{"a":1,"self":[circular]}');
  });

  it('a 50 MB string costs one line of 200 characters', () => {
    const s = showValue('b'.repeat(50_000_000));
    expect(s).toBe(`"${'b'.repeat(SHOW_MAX - 1)}... (49999802 more characters)`);
  });
});

describe('messages are one line', () => {
  it('InputError escapes the file, field and detail, and cuts a field', () => {
    const e = new InputError('a\nb.jsonl', 3, `k\u001b${'y'.repeat(300)}`, 'bad\r\nthing');
    expect(e.message).not.toMatch(/[\u0000-\u001f]/);
    expect(e.message).toMatch(/^a\\nb\.jsonl:3: field 'k\\u001by+\.\.\. \(\d+ more characters\)': bad\\r\\nthing$/);
    expect([e.file, e.detail]).toEqual(['a\nb.jsonl', 'bad\r\nthing']);
  });

  it('ModelError escapes its message', () => {
    expect(new ModelError('x\ny').message).toBe('x\\ny');
  });

  it('oneLine and clip leave ordinary text alone', () => {
    expect([oneLine('/tmp/a b.jsonl'), clip('arg.flags[0]')]).toEqual(['/tmp/a b.jsonl', 'arg.flags[0]']);
  });
});
