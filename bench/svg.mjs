// Line plots as SVG text, by hand: two axes (linear or log 10), ticks with labels, a few series
// of points joined by lines, a legend. No plotting library (docs/dependencies.md): the bench
// needs only this, and the output is plain text that diffs well.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 2'];

export function escapeXml(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

/** A number as a tick label: 1000 -> 1k, 1e6 -> 1M, 0.5 -> 0.5. */
export function tickLabel(v) {
  const a = Math.abs(v);
  const trim = (x) => String(Number(x.toPrecision(3)));
  if (a >= 1e9) return `${trim(v / 1e9)}G`;
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/**
 * The map from data to pixels on one axis: `domain` [lo, hi] onto `range` [from, to] (to < from
 * for the y axis, whose pixels grow downwards); log: by log10 (the domain must be positive).
 */
export function scale([lo, hi], [from, to], log = false) {
  const f = log ? Math.log10 : (x) => x;
  const a = f(lo);
  const b = f(hi);
  const span = b - a || 1;
  return (x) => from + ((f(x) - a) / span) * (to - from);
}

/** The domain an axis shows for these values: whole decades on a log axis, nice steps otherwise. */
export function domainOf(values, log) {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (vs.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (log) {
    lo = 10 ** Math.floor(Math.log10(lo));
    hi = 10 ** Math.ceil(Math.log10(hi));
    if (hi === lo) hi = lo * 10;
    return [lo, hi];
  }
  lo = Math.min(0, lo);
  if (hi === lo) hi = lo + 1;
  const step = niceStep((hi - lo) / 5);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** The tick values of an axis over its domain: decades (and 2, 5 within few decades) on a log axis. */
export function ticksOf([lo, hi], log) {
  const out = [];
  if (log) {
    const decades = Math.round(Math.log10(hi / lo));
    const mults = decades <= 2 ? [1, 2, 5] : [1];
    for (let d = Math.round(Math.log10(lo)); d <= Math.round(Math.log10(hi)); d += 1) {
      for (const m of mults) {
        const v = m * 10 ** d;
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    return out;
  }
  const step = niceStep((hi - lo) / 5);
  for (let v = lo; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * A plot: `series` [{ name, points: [[x, y], ...] }] (points with a non-finite or, on a log
 * axis, non-positive coordinate are left out), axes { label, log }. Each point is a <circle>
 * whose data-x and data-y give the values it stands for.
 */
export function plot({ title, x, y, series, width = 640, height = 400 }) {
  const margin = { left: 72, right: 16, top: 36, bottom: 52 };
  const legendH = 18 * series.length;
  const plotTop = margin.top + legendH;
  const keep = (p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!x.log || p[0] > 0) && (!y.log || p[1] > 0);
  const pts = series.map((s) => s.points.filter(keep));
  const xd = x.domain ?? domainOf(pts.flat().map((p) => p[0]), x.log);
  const yd = y.domain ?? domainOf(pts.flat().map((p) => p[1]), y.log);
  const sx = scale(xd, [margin.left, width - margin.right], x.log);
  const sy = scale(yd, [height - margin.bottom, plotTop], y.log);
  const r = (v) => Number(v.toFixed(2));
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  o.push(`<title>${escapeXml(title)}</title>`);
  o.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  o.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  // grid and ticks
  for (const t of ticksOf(xd, x.log)) {
    const px = r(sx(t));
    o.push(`<line class="grid" x1="${px}" y1="${plotTop}" x2="${px}" y2="${height - margin.bottom}" stroke="#e0e0e0"/>`);
    o.push(`<text class="xtick" x="${px}" y="${height - margin.bottom + 16}" text-anchor="middle">${escapeXml(tickLabel(t))}</text>`);
  }
  for (const t of ticksOf(yd, y.log)) {
    const py = r(sy(t));
    o.push(`<line class="grid" x1="${margin.left}" y1="${py}" x2="${width - margin.right}" y2="${py}" stroke="#e0e0e0"/>`);
    o.push(`<text class="ytick" x="${margin.left - 6}" y="${r(py + 4)}" text-anchor="end">${escapeXml(tickLabel(t))}</text>`);
  }
  o.push(`<line x1="${margin.left}" y1="${height - margin.bottom}" x2="${width - margin.right}" y2="${height - margin.bottom}" stroke="#000000"/>`);
  o.push(`<line x1="${margin.left}" y1="${plotTop}" x2="${margin.left}" y2="${height - margin.bottom}" stroke="#000000"/>`);
  o.push(`<text x="${r((margin.left + width - margin.right) / 2)}" y="${height - 12}" text-anchor="middle">${escapeXml(x.label)}${x.log ? ' (log)' : ''}</text>`);
  o.push(`<text transform="translate(16 ${r((plotTop + height - margin.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(y.label)}${y.log ? ' (log)' : ''}</text>`);
  // series
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const dash = DASHES[i % DASHES.length];
    const ps = [...pts[i]].sort((a, b) => a[0] - b[0]);
    o.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (ps.length > 1) o.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${ps.map((p) => `${r(sx(p[0]))},${r(sy(p[1]))}`).join(' ')}"/>`);
    for (const p of ps) o.push(`<circle cx="${r(sx(p[0]))}" cy="${r(sy(p[1]))}" r="3.5" fill="${colour}" data-x="${p[0]}" data-y="${p[1]}"/>`);
    o.push('</g>');
    const ly = margin.top + 18 * i + 4;
    o.push(`<line x1="${margin.left + 8}" y1="${ly}" x2="${margin.left + 36}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    o.push(`<text class="legend" x="${margin.left + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}
