/**
 * The report page's script: plain JavaScript (ES2020, no framework, no network), kept as a
 * string so that the built package carries it. It reads the JSON of data.ts from
 * `#report-data`, draws the timeline (one lane per process, task and device; records binned per
 * pixel column when there are more records than columns), keeps only the visible rows of the
 * record list in the DOM, and folds the IOVA-map events up to the selected record from the
 * nearest checkpoint (one every CHECKPOINT events, made as the slider first passes them).
 * Everything from the log goes into the page as text (textContent), never as markup.
 * It sets performance.mark('report-rendered') and body[data-rendered] once the first frame
 * with the timeline is painted. Written without backquotes or dollar-brace, as it lives in
 * template literals; the IOVA map, lifecycles, findings and selection are in client-panels.ts
 * (one function scope across both: CLIENT_JS is the two joined).
 */
import { PANELS_JS } from './client-panels.js';

/** The records, the timeline, the record list and the selected record's detail and cause chain. */
const VIEW_JS = String.raw`
(function () {
'use strict';
var D = JSON.parse(document.getElementById('report-data').textContent);
var S = D.strings, R = D.rec, N = R.seq.length;
var ROW = 20, CHECKPOINT = 512, LANE_H = 22;
var sel = -1;
function $(id) { return document.getElementById(id); }
function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

// ---- sizes and addresses
var KIB = 1024n, UNITS = [[1n << 60n, 'EiB'], [1n << 50n, 'PiB'], [1n << 40n, 'TiB'], [1n << 30n, 'GiB'], [1n << 20n, 'MiB'], [KIB, 'KiB']];
function human(b) {
  for (var i = 0; i < UNITS.length; i++) {
    var u = UNITS[i][0];
    if (b >= u) {
      if (b % u === 0n) return (b / u).toString() + ' ' + UNITS[i][1];
      return (Number(b * 10n / u) / 10).toFixed(1) + ' ' + UNITS[i][1];
    }
  }
  return b.toString() + (b === 1n ? ' byte' : ' bytes');
}
function hx(b) { return '0x' + b.toString(16); }

// ---- records
var bySeq = new Map();
for (var i0 = 0; i0 < N; i0++) bySeq.set(R.seq[i0], i0);
function laneName(i) { return S[D.lanes[R.lane[i]]]; }
function recTitle(i) { return '#' + R.seq[i] + ' ' + S[R.op[i]]; }

// ---- header
function header() {
  $('title').textContent = D.file;
  $('desc').textContent = D.description;
  var chips = $('chips');
  function chip(t, cls) { chips.appendChild(el('span', 'chip' + (cls ? ' ' + cls : ''), t)); }
  chip('scheme ' + D.scheme);
  chip('Linux v' + D.kernel);
  chip(N + ' records');
  chip(D.derivedTotal + ' derived');
  var nv = D.violations.length, nd = D.divergences.length;
  if (nv + nd === 0) chip('clean', 'ok');
  if (nv > 0) chip(nv + (nv === 1 ? ' violation' : ' violations'), 'bad');
  if (nd > 0) chip(nd + (nd === 1 ? ' divergence' : ' divergences'), 'bad');
  chip('world ' + D.fingerprint, 'dim');
}

// ---- timeline
var tl = { w: 0, cols: 0, bins: null, red: null, max: 1 };
function buildLanes() {
  var labels = $('lane-labels');
  clear(labels);
  for (var l = 0; l < D.lanes.length; l++) {
    var n = S[D.lanes[l]];
    var d = el('div', 'lane-label', n);
    d.title = n;
    d.style.height = LANE_H + 'px';
    labels.appendChild(d);
  }
  $('timeline-body').style.height = (D.lanes.length * LANE_H) + 'px';
}
function drawTimeline() {
  var cv = $('timeline-canvas');
  var w = Math.max(100, cv.parentElement.clientWidth);
  var h = D.lanes.length * LANE_H;
  var dpr = window.devicePixelRatio || 1;
  cv.width = Math.round(w * dpr); cv.height = Math.round(h * dpr);
  cv.style.width = w + 'px'; cv.style.height = h + 'px';
  var g = cv.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  var L = D.lanes.length;
  for (var l = 0; l < L; l++) { g.fillStyle = l % 2 ? '#f4f6f9' : '#fbfcfd'; g.fillRect(0, l * LANE_H, w, LANE_H); }
  var cols = Math.min(w, N);
  var bins = new Uint32Array(L * cols), red = new Uint8Array(L * cols), max = 1;
  for (var i = 0; i < N; i++) {
    var c = Math.floor(i * cols / N), k = R.lane[i] * cols + c;
    bins[k]++;
    if (bins[k] > max) max = bins[k];
    if (R.flag[i]) red[k] = 1;
  }
  var cw = w / cols;
  for (var l2 = 0; l2 < L; l2++) {
    for (var c2 = 0; c2 < cols; c2++) {
      var n = bins[l2 * cols + c2];
      if (n === 0) continue;
      var x = c2 * cw, bw = Math.max(1, cw > 3 ? cw - 1 : cw);
      var f = max === 1 ? 1 : 0.35 + 0.65 * Math.log(1 + n) / Math.log(1 + max);
      var bh = Math.max(4, (LANE_H - 6) * f);
      g.fillStyle = '#3b6fb6';
      g.fillRect(x, l2 * LANE_H + (LANE_H - bh) / 2, bw, bh);
    }
  }
  for (var l3 = 0; l3 < L; l3++) {
    for (var c3 = 0; c3 < cols; c3++) {
      if (!red[l3 * cols + c3]) continue;
      g.fillStyle = '#d62828';
      g.fillRect(c3 * cw - 1, l3 * LANE_H + 1, Math.max(3, cw + 1), LANE_H - 2);
    }
  }
  tl = { w: w, cols: cols, bins: bins, red: red, max: max };
  placeCursor();
  var scale = $('timeline-scale');
  clear(scale);
  var ticks = Math.min(8, N);
  for (var t = 0; t < ticks; t++) {
    var ri = Math.round(t * (N - 1) / Math.max(1, ticks - 1));
    var s = el('span', 'tick', '#' + R.seq[ri]);
    if (t === ticks - 1 && ticks > 1) { s.style.right = '0'; s.classList.add('end'); } else s.style.left = ((ri + 0.5) * w / N) + 'px';
    scale.appendChild(s);
  }
}
function xOf(i) { return (Math.floor(i * tl.cols / N) + 0.5) * tl.w / tl.cols; }
function placeCursor() {
  if (sel < 0 || tl.cols === 0) return;
  var c = $('timeline-cursor');
  c.style.left = xOf(sel) + 'px';
  c.style.display = 'block';
}
function timelineAt(ev) {
  var cv = $('timeline-canvas'), r = cv.getBoundingClientRect();
  var x = ev.clientX - r.left, y = ev.clientY - r.top;
  var c = Math.max(0, Math.min(tl.cols - 1, Math.floor(x * tl.cols / tl.w)));
  var lane = Math.max(0, Math.min(D.lanes.length - 1, Math.floor(y / LANE_H)));
  var from = Math.ceil(c * N / tl.cols), to = Math.ceil((c + 1) * N / tl.cols);
  var first = -1, count = 0, bad = 0;
  for (var i = from; i < to && i < N; i++) {
    if (R.lane[i] !== lane) continue;
    if (first < 0 || (R.flag[i] && !R.flag[first])) first = i;
    count++;
    if (R.flag[i]) bad++;
  }
  return { from: from, to: Math.min(N, to), lane: lane, first: first, count: count, bad: bad };
}

// ---- record list (only the visible rows are in the DOM)
var pool = [];
function renderList() {
  var box = $('list'), top = box.scrollTop, h = box.clientHeight || 400;
  var first = Math.max(0, Math.floor(top / ROW) - 2), last = Math.min(N, Math.ceil((top + h) / ROW) + 2);
  var need = last - first;
  var body = $('list-rows');
  while (pool.length < need) {
    var r = el('div', 'row');
    r.appendChild(el('span', 'c-seq')); r.appendChild(el('span', 'c-lane'));
    r.appendChild(el('span', 'c-op')); r.appendChild(el('span', 'c-text')); r.appendChild(el('span', 'c-out'));
    r.addEventListener('click', function () { select(Number(this.dataset.i)); });
    body.appendChild(r); pool.push(r);
  }
  for (var k = 0; k < pool.length; k++) {
    var row = pool[k], i = first + k;
    if (k >= need) { row.style.display = 'none'; continue; }
    row.style.display = '';
    row.style.top = (i * ROW) + 'px';
    row.dataset.i = String(i);
    row.dataset.seq = String(R.seq[i]);
    row.className = 'row' + (R.flag[i] ? ' flagged' : '') + (i === sel ? ' selected' : '');
    var cells = row.childNodes;
    cells[0].textContent = R.seq[i];
    cells[1].textContent = laneName(i);
    cells[2].textContent = S[R.op[i]];
    cells[3].textContent = R.text[i];
    cells[4].textContent = S[R.out[i]];
    row.title = 'line ' + R.line[i] + ': ' + S[R.op[i]] + ' ' + R.text[i] + (S[R.out[i]] ? ' -> ' + S[R.out[i]] : '');
  }
}
function scrollListTo(i) {
  var box = $('list'), y = i * ROW;
  if (y < box.scrollTop || y + ROW > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, y - box.clientHeight / 2);
}

// ---- the selected record, its derived records and a cause chain
function derivedOf(i) { return { from: R.dStart[i], to: R.dStart[i + 1] }; }
function renderDetail() {
  var box = $('detail');
  clear(box);
  if (sel < 0) return;
  var i = sel;
  var h = el('div', 'detail-head');
  h.appendChild(el('span', 'big', recTitle(i)));
  h.appendChild(el('span', 'dim', ' line ' + R.line[i] + ' \u00b7 ' + laneName(i)));
  box.appendChild(h);
  if (R.text[i]) box.appendChild(el('div', 'mono fields', R.text[i]));
  if (S[R.out[i]]) box.appendChild(el('div', 'mono outcome', '\u2192 ' + S[R.out[i]]));
  D.violations.forEach(function (v) { if (bySeq.get(v.seq) === i) box.appendChild(el('div', 'bad-line', v.property + ': ' + v.message)); });
  D.divergences.forEach(function (v) { if (bySeq.get(v.seq) === i) box.appendChild(el('div', 'bad-line', 'divergence: ' + divText(v))); });
  var r = derivedOf(i);
  var list = el('div', 'derived');
  list.id = 'derived-list';
  var depth = new Map();
  box.appendChild(el('h3', '', (r.to - r.from) + ' derived record' + (r.to - r.from === 1 ? '' : 's')));
  var shown = Math.min(r.to, r.from + 400);
  for (var d = r.from; d < shown; d++) {
    var via = D.der.via[d], k = via === 0 ? 0 : (depth.get(via) || 0) + 1;
    depth.set(D.der.id[d], k);
    var row = el('div', 'drow mono');
    row.style.paddingLeft = (6 + 14 * Math.min(k, 12)) + 'px';
    row.dataset.d = String(d);
    row.dataset.id = String(D.der.id[d]);
    row.appendChild(el('span', 'did', R.seq[i] + '.' + D.der.id[d]));
    row.appendChild(el('span', 'dop', S[D.der.op[d]]));
    row.appendChild(el('span', 'dtext', D.der.text[d]));
    row.addEventListener('click', function () { showChain(i, Number(this.dataset.d)); });
    list.appendChild(row);
  }
  if (r.to > shown) list.appendChild(el('div', 'dim', '\u2026 and ' + (r.to - shown) + ' more'));
  box.appendChild(list);
  var chain = el('div', 'chain');
  chain.id = 'chain';
  box.appendChild(chain);
}
function showChain(i, d) {
  var r = derivedOf(i), byId = new Map();
  for (var k = r.from; k < r.to; k++) byId.set(D.der.id[k], k);
  var box = $('chain');
  clear(box);
  box.appendChild(el('h3', '', 'Cause chain of ' + R.seq[i] + '.' + D.der.id[d]));
  var cur = d, n = 0, seen = new Set();
  while (cur !== undefined && !seen.has(cur)) {
    seen.add(cur);
    var line = el('div', 'link mono');
    line.appendChild(el('span', 'because', n === 0 ? '' : 'because '));
    line.appendChild(el('span', 'did', R.seq[i] + '.' + D.der.id[cur]));
    line.appendChild(el('span', 'dop', S[D.der.op[cur]]));
    line.appendChild(el('span', 'dtext', D.der.text[cur]));
    box.appendChild(line);
    n++;
    cur = D.der.via[cur] === 0 ? undefined : byId.get(D.der.via[cur]);
  }
  var stim = el('div', 'link mono stim');
  stim.appendChild(el('span', 'because', 'because '));
  stim.appendChild(el('span', 'did', '#' + R.seq[i]));
  stim.appendChild(el('span', 'dop', S[R.op[i]]));
  stim.appendChild(el('span', 'dtext', R.text[i] + ' (line ' + R.line[i] + ', the stimulus)'));
  box.appendChild(stim);
  var rows = document.querySelectorAll('#derived-list .drow');
  for (var q = 0; q < rows.length; q++) rows[q].classList.toggle('on', seen.has(Number(rows[q].dataset.d)));
}

`;

export const CLIENT_JS = `${VIEW_JS}${PANELS_JS}`;
