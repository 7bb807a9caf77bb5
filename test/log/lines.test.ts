/** The byte-level line splitter under streamLog: lines across chunks, and the line limit. */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/vocab/errors.js';
import { DEFAULT_MAX_LINE, formatSize, LineSplitter } from '../../src/log/lines.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function split(chunks: readonly string[], max = 1000): string[] {
  const s = new LineSplitter('x.jsonl', max);
  const out = chunks.flatMap((c) => [...s.push(enc(c))].map(dec));
  const last = s.finish();
  return last === null ? out : [...out, dec(last)];
}

describe('LineSplitter', () => {
  it('splits at "\\n" whatever the chunks, keeping a "\\r" and a last line without "\\n"', () => {
    expect(split(['ab\ncd', '\n\nef\r', '\ngh'])).toEqual(['ab', 'cd', '', 'ef\r', 'gh']);
    expect(split(['a', 'b', 'c\n'])).toEqual(['abc']);
    expect(split([])).toEqual([]);
    expect(split(['\n'])).toEqual(['']);
  });

  it('fails once the line being read passes the limit, before it holds the next chunk', () => {
    const s = new LineSplitter('x.jsonl', 10);
    expect([...s.push(enc('0123456789\n'))].map(dec)).toEqual(['0123456789']);
    expect([...s.push(enc('0123'))]).toEqual([]);
    expect([...s.push(enc('4567'))]).toEqual([]);
    let err: unknown;
    try {
      [...s.push(enc('89A'))];
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toBe('x.jsonl:2: line is longer than 10 bytes (--max-line)');
  });

  it('names what set the limit', () => {
    const s = new LineSplitter('x.jsonl', 4, 'the longest string Node.js holds');
    expect(() => [...s.push(enc('12345'))]).toThrow('x.jsonl:1: line is longer than 4 bytes (the longest string Node.js holds)');
  });

  it('says sizes in binary units when they are round', () => {
    expect(formatSize(DEFAULT_MAX_LINE)).toBe('64 MiB');
    expect([formatSize(1 << 30), formatSize(4096), formatSize(4095), formatSize(1536 * 1024)]).toEqual(['1 GiB', '4 KiB', '4095 bytes', '1536 KiB']);
  });
});
