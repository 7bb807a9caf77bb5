/**
 * The second half of the report page's script (client.ts has the first and joins them): the
 * IOVA map folded from checkpoints, the lifecycles, the findings with the lockdep scenario, the
 * selection that every panel follows, and the start. Same rules as client.ts: plain JavaScript,
 * log text only through textContent, no backquotes or dollar-brace.
 */
export const PANELS_JS = String.raw`// ---- the IOVA map: a fold of the events up to the selected record, from checkpoints
var EV = D.iova, NE = EV.length / 6;
var evRec = new Int32Array(NE);
for (var e0 = 0; e0 < NE; e0++) evRec[e0] = EV[e0 * 6];
var checkpoints = [new Map()];
function copyState(st) {
  var out = new Map();
  st.forEach(function (v, k) { out.set(k, { D: v.D.slice(), M: v.M.slice(), P: v.P.slice(), R: v.R.slice(), V: v.V.slice() }); });
  return out;
}
function ownerOf(st, o) {
  var v = st.get(o);
  if (!v) { v = { D: [], M: [], P: [], R: [], V: [] }; st.set(o, v); }
  return v;
}
function subtract(list, s, e) {
  var out = [];
  for (var i = 0; i < list.length; i++) {
    var r = list[i];
    if (r.e <= s || r.s >= e) { out.push(r); continue; }
    if (r.s < s) out.push({ s: r.s, e: s, k: r.k, label: r.label, at: r.at });
    if (r.e > e) out.push({ s: e, e: r.e, k: r.k, label: r.label, at: r.at });
  }
  return out;
}
function apply(st, j) {
  var b = j * 6, kind = EV[b + 1], o = ownerOf(st, EV[b + 2]);
  var s = BigInt(EV[b + 3]), e = BigInt(EV[b + 4]), r = { s: s, e: e, k: kind, label: EV[b + 5], at: EV[b] };
  switch (kind) {
    case 'D+': o.D = o.D.concat([r]); break;
    case 'D-': o.D = subtract(o.D, s, e); break;
    case 'M+': case 'B+': o.M = o.M.concat([r]); break;
    case 'M-': o.M = subtract(o.M, s, e); break;
    case 'P+': o.P = o.P.concat([r]); break;
    case 'P-': o.P = subtract(o.P, s, e); break;
    case 'R+': o.R = o.R.concat([r]); break;
    case 'X': o.D = []; o.M = []; o.P = []; o.R = []; break;
    case 'V+': o.V = o.V.concat([r]); break;
    case 'V-': o.V = subtract(o.V, s, e); break;
  }
}
/** The number of events at records up to i. */
function eventsUpTo(i) {
  var lo = 0, hi = NE;
  while (lo < hi) { var m = (lo + hi) >> 1; if (evRec[m] <= i) lo = m + 1; else hi = m; }
  return lo;
}
function stateAt(i) {
  var n = eventsUpTo(i), want = Math.floor(n / CHECKPOINT);
  while (checkpoints.length <= want) {
    var c = checkpoints.length, st = copyState(checkpoints[c - 1]);
    for (var j = (c - 1) * CHECKPOINT; j < c * CHECKPOINT; j++) apply(st, j);
    checkpoints.push(st);
  }
  var cur = copyState(checkpoints[want]);
  for (var j2 = want * CHECKPOINT; j2 < n; j2++) apply(cur, j2);
  return cur;
}
var KINDS = {
  R: { cls: 'k-resv', name: 'reserved (MSI / resv)', short: 'reserved' },
  D: { cls: 'k-dma', name: 'vfio_dma (MAP_DMA)', short: 'vfio_dma' },
  'M+': { cls: 'k-map', name: 'IOMMU-mapped RAM', short: 'IOMMU' },
  'B+': { cls: 'k-bar', name: 'IOMMU-mapped BAR (P2P MMIO)', short: 'IOMMU P2P' },
  P: { cls: 'k-pin', name: 'pinned pages', short: 'pinned' },
  V: { cls: 'k-bar', name: 'BAR mmap (process VA)', short: 'BAR mmap' },
};
function kindOf(layer, r) { return layer === 'M' ? KINDS[r.k] : KINDS[layer]; }
function legend() {
  var box = $('legend');
  ['R', 'D', 'M+', 'B+', 'P'].forEach(function (k) {
    var item = el('span', 'legend-item');
    item.appendChild(el('span', 'swatch ' + KINDS[k].cls));
    item.appendChild(document.createTextNode(KINDS[k].name));
    box.appendChild(item);
  });
}
function cmp(a, b) { return a < b ? -1 : a > b ? 1 : 0; }
function strip(layers, ranges) {
  var pts = [];
  ranges.forEach(function (x) { pts.push(x.r.s, x.r.e); });
  pts.sort(cmp);
  var uniq = [];
  pts.forEach(function (p) { if (uniq.length === 0 || uniq[uniq.length - 1] !== p) uniq.push(p); });
  var weights = [], total = 0;
  for (var i = 0; i + 1 < uniq.length; i++) {
    var s = uniq[i], e = uniq[i + 1];
    var covered = ranges.some(function (x) { return x.r.s <= s && x.r.e >= e; });
    var w = covered ? 1 + Math.log2(Math.max(1, Number(e - s) / 4096)) / 4 : 0.5;
    weights.push({ s: s, e: e, w: w, gap: !covered });
    total += w;
  }
  var off = new Map(), acc = 0;
  weights.forEach(function (w) { off.set(w.s, acc / total); acc += w.w; off.set(w.e, acc / total); });
  var box = el('div', 'strip');
  layers.forEach(function (layer) {
    var track = el('div', 'track');
    track.appendChild(el('span', 'track-name', layer.name));
    var lane = el('div', 'track-lane');
    ranges.forEach(function (x) {
      if (x.layer !== layer.key) return;
      var a = off.get(x.r.s), b = off.get(x.r.e), k = kindOf(x.layer, x.r);
      var seg = el('div', 'seg ' + k.cls);
      seg.style.left = (a * 100) + '%';
      seg.style.width = 'max(2px, ' + ((b - a) * 100) + '%)';
      seg.title = k.name + ' ' + hx(x.r.s) + '-' + hx(x.r.e - 1n) + ' (' + human(x.r.e - x.r.s) + ') ' + x.r.label;
      lane.appendChild(seg);
    });
    weights.forEach(function (w) {
      if (!w.gap) return;
      var g = el('div', 'gapmark');
      g.style.left = (off.get(w.s) * 100) + '%';
      g.style.width = ((off.get(w.e) - off.get(w.s)) * 100) + '%';
      lane.appendChild(g);
    });
    track.appendChild(lane);
    box.appendChild(track);
  });
  if (uniq.length > 1) {
    var axis = el('div', 'axis');
    axis.appendChild(el('span', 'track-name', ''));
    var al = el('div', 'track-lane');
    // a label where there is room for it (about 16% of the strip), the last one right-aligned
    var lastAt = -1;
    for (var q = 0; q < uniq.length; q++) {
      var at = off.get(uniq[q]);
      if (lastAt >= 0 && at - lastAt < 0.16) continue;
      if (at > 0.9 && q !== uniq.length - 1) continue;
      var t = el('span', 'axis-tick mono', hx(uniq[q]));
      if (at > 0.9) { t.style.right = '0'; t.classList.add('end'); } else t.style.left = (at * 100) + '%';
      al.appendChild(t);
      lastAt = at;
    }
    axis.appendChild(al);
    box.appendChild(axis);
  }
  return box;
}
function rangeTable(ranges, cap) {
  var t = el('table', 'ranges');
  var head = el('tr');
  ['', 'start', 'end', 'size', 'what', 'since'].forEach(function (h) { head.appendChild(el('th', '', h)); });
  t.appendChild(head);
  ranges.slice(0, cap).forEach(function (x) {
    var k = kindOf(x.layer, x.r), tr = el('tr');
    tr.dataset.start = hx(x.r.s);
    tr.dataset.kind = x.layer === 'M' ? x.r.k : x.layer;
    var sw = el('td'); sw.appendChild(el('span', 'swatch ' + k.cls)); tr.appendChild(sw);
    tr.appendChild(el('td', 'mono', hx(x.r.s)));
    tr.appendChild(el('td', 'mono', hx(x.r.e - 1n)));
    tr.appendChild(el('td', 'num', human(x.r.e - x.r.s)));
    var what = el('td', 'what', (k.short || k.name) + (x.r.label ? ': ' + x.r.label : ''));
    what.title = what.textContent;
    tr.appendChild(what);
    var since = el('td', 'mono link-cell', '#' + R.seq[x.r.at]);
    since.addEventListener('click', function () { select(x.r.at); });
    tr.appendChild(since);
    t.appendChild(tr);
  });
  if (ranges.length > cap) { var more = el('tr'); more.appendChild(el('td', 'dim', '\u2026 and ' + (ranges.length - cap) + ' more')); t.appendChild(more); }
  return t;
}
function renderIova() {
  var box = $('iova-maps');
  clear(box);
  if (sel < 0) return;
  var st = stateAt(sel);
  var owners = Array.from(st.keys()).sort();
  var any = false;
  var LAYERS = [{ key: 'R', name: 'reserved' }, { key: 'D', name: 'vfio_dma' }, { key: 'M', name: 'IOMMU' }, { key: 'P', name: 'pinned' }];
  owners.forEach(function (o) {
    var v = st.get(o);
    if (o.indexOf('container ') !== 0) return;
    any = true;
    var ranges = [];
    LAYERS.forEach(function (l) { v[l.key].forEach(function (r) { ranges.push({ layer: l.key, r: r }); }); });
    ranges.sort(function (a, b) { return cmp(a.r.s, b.r.s) || LAYERS.findIndex(function (l) { return l.key === a.layer; }) - LAYERS.findIndex(function (l) { return l.key === b.layer; }); });
    var sec = el('div', 'owner');
    sec.dataset.owner = o;
    var mapped = 0n, pinned = 0n;
    v.M.forEach(function (r) { mapped += r.e - r.s; });
    v.P.forEach(function (r) { pinned += r.e - r.s; });
    var h = el('h3', '', o);
    h.appendChild(el('span', 'dim', ' \u00b7 ' + v.D.length + ' vfio_dma, ' + human(mapped) + ' IOMMU-mapped, ' + human(pinned) + ' pinned'));
    sec.appendChild(h);
    if (ranges.length === 0) sec.appendChild(el('div', 'dim', 'empty at this record'));
    else {
      sec.appendChild(strip(LAYERS, ranges));
      var scroll = el('div', 'ranges-box');
      scroll.appendChild(rangeTable(ranges, 400));
      sec.appendChild(scroll);
    }
    box.appendChild(sec);
  });
  var bars = [];
  owners.forEach(function (o) { if (o.indexOf('pid ') === 0) st.get(o).V.forEach(function (r) { bars.push({ o: o, layer: 'V', r: r }); }); });
  if (bars.length > 0) {
    var sec = el('div', 'owner');
    sec.appendChild(el('h3', '', 'BAR mmaps (process virtual addresses)'));
    var t = rangeTable(bars, 40);
    var rows = t.querySelectorAll('tr');
    for (var q = 1; q < rows.length && q - 1 < bars.length; q++) rows[q].childNodes[4].textContent = bars[q - 1].o + ': ' + bars[q - 1].r.label;
    sec.appendChild(t);
    box.appendChild(sec);
  }
  var host = st.get('host');
  if (host && host.R.length > 0) box.appendChild(el('div', 'dim small', 'host.iommu reserved regions: ' + host.R.map(function (r) { return hx(r.s) + '-' + hx(r.e - 1n) + ' ' + r.label; }).join(', ')));
  if (!any) box.appendChild(el('div', 'dim', 'no container has an IOMMU map at this record'));
  $('iova-at').textContent = 'after ' + recTitle(sel) + ' (' + (sel + 1) + ' of ' + N + ')';
}

// ---- lifecycles: state records per object
var LF = D.life, NL = LF.length / 5, lifeByObj = null;
function lifeIndex() {
  if (lifeByObj) return lifeByObj;
  lifeByObj = new Map();
  for (var t = 0; t < NL; t++) {
    var o = LF[t * 5], a = lifeByObj.get(o);
    if (!a) { a = []; lifeByObj.set(o, a); }
    a.push(t);
  }
  return lifeByObj;
}
function lifeRow(o) {
  var idx = lifeIndex().get(o) || [];
  var row = el('div', 'life-row');
  row.dataset.object = S[o];
  var now = null;
  // before its first state record an object is in that record's from-state
  if (idx.length > 0) now = S[LF[idx[0] * 5 + 2]];
  idx.forEach(function (t) { if (LF[t * 5 + 1] <= sel) now = S[LF[t * 5 + 3]]; });
  var name = el('div', 'life-name mono', S[o]);
  name.appendChild(el('span', 'life-now', ' ' + now));
  row.appendChild(name);
  var chips = el('div', 'life-chips');
  if (idx.length > 0) chips.appendChild(el('span', 'state', S[LF[idx[0] * 5 + 2]]));
  idx.forEach(function (t) {
    var at = LF[t * 5 + 1];
    var c = el('span', 'ev' + (at === sel ? ' here' : at > sel ? ' later' : ''));
    c.appendChild(el('span', 'ev-name', S[LF[t * 5 + 4]] + ' #' + R.seq[at]));
    c.title = 'record ' + R.seq[at] + ' (' + S[R.op[at]] + ')';
    c.addEventListener('click', function () { select(at); });
    chips.appendChild(c);
    chips.appendChild(el('span', 'state' + (at > sel ? ' later' : ''), S[LF[t * 5 + 3]]));
  });
  row.appendChild(chips);
  return row;
}
function renderLife() {
  var box = $('life-list');
  clear(box);
  var idx = lifeIndex(), q = $('life-filter').value.trim().toLowerCase(), objs = [];
  if (q !== '') idx.forEach(function (_, o) { if (S[o].toLowerCase().indexOf(q) >= 0) objs.push(o); });
  else if (idx.size <= 40) idx.forEach(function (_, o) { objs.push(o); });
  else {
    var lo = 0, hi = NL;
    while (lo < hi) { var m = (lo + hi) >> 1; if (LF[m * 5 + 1] < sel) lo = m + 1; else hi = m; }
    var seen = new Set();
    for (var t = lo; t < NL && LF[t * 5 + 1] === sel; t++) if (!seen.has(LF[t * 5])) { seen.add(LF[t * 5]); objs.push(LF[t * 5]); }
    $('life-note').textContent = idx.size + ' objects: those whose state changed at the selected record are shown; type to find others';
  }
  objs.slice(0, 60).forEach(function (o) { box.appendChild(lifeRow(o)); });
  if (objs.length === 0) box.appendChild(el('div', 'dim', 'no object changed state at this record'));
  if (objs.length > 60) box.appendChild(el('div', 'dim', '\u2026 and ' + (objs.length - 60) + ' more'));
}

// ---- findings
function divText(d) { return d.op + ' (line ' + d.line + '): ' + d.text + ' (decided by ' + d.decidedBy + ')'; }
var TITLES = { 'lock-order': 'Possible unsafe locking scenario', 'wait-for': 'Wait-for cycle reached (each task takes what it holds, then what it waits for)', stuck: 'No task can run (each task takes what it holds, then what it waits for)' };
function scenarioTable(s) {
  var wrap = el('div', 'scenario');
  wrap.appendChild(el('div', 'scenario-title', TITLES[s.kind] || s.kind));
  var t = el('table', 'lockdep');
  var head = el('tr');
  s.tasks.forEach(function (name) { head.appendChild(el('th', 'mono', name)); });
  t.appendChild(head);
  s.rows.forEach(function (r) {
    var tr = el('tr');
    r.forEach(function (c) { tr.appendChild(el('td', 'mono', c)); });
    t.appendChild(tr);
  });
  wrap.appendChild(t);
  wrap.appendChild(el('div', 'deadlock mono', '*** DEADLOCK ***'));
  return wrap;
}
function findings() {
  var box = $('findings');
  clear(box);
  if (D.violations.length + D.divergences.length === 0) { box.appendChild(el('div', 'ok-line', 'no violation, no divergence: every property holds on this log')); return; }
  D.violations.forEach(function (v) {
    var item = el('div', 'finding');
    var a = el('a', 'goto', v.property + ' at #' + v.seq);
    a.href = '#seq=' + v.seq;
    a.dataset.seq = String(v.seq);
    a.addEventListener('click', function (e) { e.preventDefault(); var i = bySeq.get(v.seq); if (i !== undefined) select(i); });
    item.appendChild(a);
    item.appendChild(el('div', 'msg', v.message));
    if (v.chain && v.chain.length > 0) {
      var ch = el('div', 'lock-chain mono');
      for (var k = v.chain.length - 1; k >= 0; k--) {
        var l = v.chain[k];
        ch.appendChild(el('div', '', '-> #' + k + ' (' + l.to + '): ' + l.task + ' at ' + l.where + (l.function ? ' \u00b7 ' + l.function : '')));
      }
      item.appendChild(ch);
    }
    if (v.scenario) item.appendChild(scenarioTable(v.scenario));
    box.appendChild(item);
  });
  D.divergences.forEach(function (d) {
    var item = el('div', 'finding');
    var a = el('a', 'goto', 'divergence at #' + d.seq);
    a.href = '#seq=' + d.seq;
    a.dataset.seq = String(d.seq);
    a.addEventListener('click', function (e) { e.preventDefault(); var i = bySeq.get(d.seq); if (i !== undefined) select(i); });
    item.appendChild(a);
    item.appendChild(el('div', 'msg', divText(d)));
    box.appendChild(item);
  });
}

// ---- selection
var pending = -1;
function select(i) {
  if (i < 0 || i >= N) return;
  sel = i;
  $('slider').value = String(i);
  $('slider-label').textContent = recTitle(i) + ' \u00b7 line ' + R.line[i] + ' \u00b7 ' + laneName(i);
  document.body.dataset.selected = String(R.seq[i]);
  placeCursor();
  scrollListTo(i);
  renderList();
  renderDetail();
  renderIova();
  renderLife();
}
function selectSoon(i) {
  if (pending >= 0) { pending = i; return; }
  pending = i;
  requestAnimationFrame(function () { var j = pending; pending = -1; select(j); });
}

function start() {
  header();
  buildLanes();
  drawTimeline();
  $('list-rows').style.height = (N * ROW) + 'px';
  var slider = $('slider');
  slider.max = String(Math.max(0, N - 1));
  slider.addEventListener('input', function () { selectSoon(Number(slider.value)); });
  $('prev').addEventListener('click', function () { select(sel - 1); });
  $('next').addEventListener('click', function () { select(sel + 1); });
  $('prev-flag').addEventListener('click', function () { for (var i = sel - 1; i >= 0; i--) if (R.flag[i]) return select(i); });
  $('next-flag').addEventListener('click', function () { for (var i = sel + 1; i < N; i++) if (R.flag[i]) return select(i); });
  $('list').addEventListener('scroll', function () { requestAnimationFrame(renderList); });
  $('life-filter').addEventListener('input', renderLife);
  var cv = $('timeline-canvas');
  cv.addEventListener('click', function (ev) { var at = timelineAt(ev); select(at.first >= 0 ? at.first : Math.min(N - 1, at.from)); });
  cv.addEventListener('mousemove', function (ev) {
    var at = timelineAt(ev);
    cv.title = S[D.lanes[at.lane]] + ': ' + (at.to - at.from > 1 ? 'records #' + R.seq[at.from] + '-#' + R.seq[at.to - 1] + ', ' : '') + at.count + ' here' + (at.bad ? ', ' + at.bad + ' flagged' : '') + (at.first >= 0 ? ' (' + recTitle(at.first) + ')' : '');
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.target && ev.target.tagName === 'INPUT' && ev.target.type !== 'range') return;
    if (ev.key === 'ArrowLeft' || ev.key === 'k') { select(sel - 1); ev.preventDefault(); }
    if (ev.key === 'ArrowRight' || ev.key === 'j') { select(sel + 1); ev.preventDefault(); }
  });
  var resize = 0;
  window.addEventListener('resize', function () { clearTimeout(resize); resize = setTimeout(drawTimeline, 100); });
  legend();
  findings();
  var m = /seq=(\d+)/.exec(location.hash), first = -1;
  for (var i = 0; i < N && first < 0; i++) if (R.flag[i]) first = i;
  var want = m && bySeq.has(Number(m[1])) ? bySeq.get(Number(m[1])) : first >= 0 ? first : N - 1;
  if (N > 0) select(want);
  requestAnimationFrame(function () {
    requestAnimationFrame(function () {
      performance.mark('report-rendered');
      document.body.dataset.rendered = '1';
    });
  });
}
start();
})();
`;
