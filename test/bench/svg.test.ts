/**
 * bench/svg.mjs, the plots of docs/performance.md: well-formed XML, and each point drawn where
 * its data puts it on the (log) axes. Not a timing test: the figures are the bench's.
 */
import { describe, expect, it } from 'vitest';
import { plot, scale, ticksOf, tickLabel } from '../../bench/svg.mjs';

/** A strict well-formedness check (tags nest and close, attributes quoted, known entities only); returns the root's name. */
function wellFormed(xml: string): string {
  const stack: string[] = [];
  let root = '';
  const token = /<!--[\s\S]*?-->|<\/?([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of xml.matchAll(token)) {
    if (m[0].startsWith('<!--')) continue;
    if (m[5] !== undefined) throw new Error(`a stray < at ${m.index}`);
    const text = m[4] ?? m[2] ?? '';
    for (const e of text.matchAll(/&([^;\s]*);?/g)) {
      if (!e[0].endsWith(';') || !['lt', 'gt', 'amp', 'apos', 'quot'].includes(e[1]!)) throw new Error(`a bad entity ${e[0]} at ${m.index}`);
    }
    if (m[4] !== undefined) {
      if (stack.length === 0 && m[4].trim() !== '') throw new Error('text outside the root');
      continue;
    }
    const name = m[1]!;
    if (m[0].startsWith('</')) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes nothing open at ${m.index}`);
    } else {
      if (stack.length === 0) {
        if (root !== '') throw new Error('two roots');
        root = name;
      }
      if (m[3] !== '/') stack.push(name);
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.join('>, <')}> left open`);
  return root;
}

function circles(svg: string): Array<{ cx: number; cy: number; x: number; y: number }> {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*data-x="([^"]+)" data-y="([^"]+)"/g)].map((m) => ({
    cx: Number(m[1]),
    cy: Number(m[2]),
    x: Number(m[3]),
    y: Number(m[4]),
  }));
}

describe('bench/svg.mjs', () => {
  const records = {
    title: 'records/s against log size',
    x: { label: 'records', log: true, domain: [1e3, 1e6] as const },
    y: { label: 'records/s', log: true, domain: [1e3, 1e6] as const },
    series: [
      { name: 'floor', points: [[1e3, 1e5], [1e4, 2e5], [1e6, 3e5]] as const },
      { name: 'replay <full> & "checked"', points: [[1e3, 1e4], [1e5, 0], [1e6, 3e4]] as const },
    ],
  };

  it('writes well-formed SVG, the series names escaped', () => {
    const svg = plot(records);
    expect(wellFormed(svg)).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('replay &lt;full&gt; &amp; &quot;checked&quot;');
  });

  it('the checker rejects what is not well-formed', () => {
    expect(() => wellFormed('<svg><g></svg>')).toThrow();
    expect(() => wellFormed('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => wellFormed('<svg x=1></svg>')).toThrow();
  });

  it('puts each point where its values fall on the log axes', () => {
    // default size 640x400, margins left 72, right 16, top 36 + 18 per legend line, bottom 52
    const left = 72;
    const right = 640 - 16;
    const bottom = 400 - 52;
    const top = 36 + 18 * 2;
    const pts = circles(plot(records));
    const at = (x: number, y: number) => pts.find((p) => p.x === x && p.y === y);
    // 10^4 is one third of the way from 10^3 to 10^6; 2*10^5 is log10(200) / 3 of the way up
    expect(at(1e4, 2e5)!.cx).toBeCloseTo(left + (right - left) / 3, 1);
    expect(at(1e4, 2e5)!.cy).toBeCloseTo(bottom - (bottom - top) * (Math.log10(200) / 3), 1);
    expect(at(1e3, 1e5)!.cx).toBeCloseTo(left, 1);
    expect(at(1e6, 3e4)!.cx).toBeCloseTo(right, 1);
    // a higher rate is drawn higher (smaller y in SVG)
    expect(at(1e6, 3e5)!.cy).toBeLessThan(at(1e6, 3e4)!.cy);
  });

  it('leaves out a point a log axis cannot show (zero), keeping the others', () => {
    const pts = circles(plot(records));
    expect(pts).toHaveLength(5);
    expect(pts.some((p) => p.y === 0)).toBe(false);
  });

  it('labels a log axis by decades and a linear one by even steps', () => {
    expect(ticksOf([1e3, 1e6], true).map(tickLabel)).toEqual(['1k', '10k', '100k', '1M']);
    expect(ticksOf([0, 10], false)).toEqual([0, 2, 4, 6, 8, 10]);
    const svg = plot(records);
    const xt = [...svg.matchAll(/class="xtick"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(xt).toEqual(['1k', '10k', '100k', '1M']);
  });

  it('scales a linear axis linearly, pixels growing down on y', () => {
    const sy = scale([0, 100], [300, 100]);
    expect(sy(0)).toBe(300);
    expect(sy(50)).toBe(200);
    expect(sy(100)).toBe(100);
    const pts = circles(plot({ title: 't', x: { label: 'tasks' }, y: { label: 's' }, series: [{ name: 'a', points: [[2, 1], [4, 3]] }] }));
    expect(pts[0]!.cx).toBeLessThan(pts[1]!.cx);
    expect(pts[0]!.cy).toBeGreaterThan(pts[1]!.cy);
  });
});
