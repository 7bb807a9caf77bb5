/**
 * The explorer's visited set (src/run/visited.ts) holds what a Set of the same fingerprints
 * holds, through its growth, the fingerprint 0 included, in at most 16 bytes a state.
 */
import { describe, expect, it } from 'vitest';
import { VisitedSet } from '../../src/run/visited.js';

/** 53-bit fingerprints from a fixed xorshift sequence, with repeats and clustered low bits. */
function fingerprints(n: number): number[] {
  let x = 0x9e3779b9;
  const out: number[] = [0];
  for (let i = 0; i < n; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const hi = (x >>> 0) & 0x1fffff;
    out.push(hi * 4294967296 + (i % 7 === 0 ? 12345 : (Math.imul(x, 2654435761) >>> 0)));
    if (i % 5 === 0) out.push(out[out.length - 2]!);
  }
  return out;
}

describe('the visited set', () => {
  it('adds and finds what a Set does, and lists it ascending', () => {
    const v = new VisitedSet(16);
    const ref = new Set<number>();
    for (const fp of fingerprints(50_000)) {
      expect(v.has(fp)).toBe(ref.has(fp));
      expect(v.add(fp)).toBe(!ref.has(fp));
      ref.add(fp);
    }
    expect(v.size).toBe(ref.size);
    expect(v.sorted()).toEqual([...ref].sort((a, b) => a - b));
    expect(v.has(1)).toBe(ref.has(1));
    expect(VisitedSet.of(v.sorted()).sorted()).toEqual(v.sorted());
  });

  it('takes at most 16 bytes a state once it holds more than its first table', () => {
    const v = new VisitedSet();
    for (const fp of fingerprints(200_000)) {
      v.add(fp);
      if (v.size > 2000) expect(v.bytes / v.size).toBeLessThanOrEqual(16.1);
    }
  });
});
