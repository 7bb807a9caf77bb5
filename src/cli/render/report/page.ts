/**
 * The report page: one self-contained HTML file (no network, no fonts, no framework): the
 * layout and styles here, the script in client.ts, the data of data.ts in a JSON block.
 */
import { CLIENT_JS } from './client.js';
import { dataJson, type ReportData } from './data.js';

const CSS = `
:root { --fg: #1c2430; --dim: #6b7686; --line: #dde2ea; --bg: #ffffff; --panel: #f7f9fb; --accent: #3b6fb6;
  --bad: #d62828; --resv: #9aa3af; --dma: #cdb4f0; --map: #3b6fb6; --bar: #e8891c; --pin: #2f9e5a; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
.mono, code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace; font-size: 12px; }
header { padding: 10px 16px 8px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { font-size: 16px; margin: 0 8px 0 0; display: inline; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
#desc { color: var(--dim); }
#chips { margin-top: 6px; display: flex; gap: 6px; flex-wrap: wrap; }
.chip { border: 1px solid var(--line); border-radius: 10px; padding: 1px 8px; background: #fff; }
.chip.ok { border-color: #9fd3b1; background: #e9f7ee; color: #1d6b3c; }
.chip.bad { border-color: #f0a3a3; background: #fdecec; color: #a11d1d; font-weight: 600; }
.chip.dim, .dim { color: var(--dim); }
.small { font-size: 12px; }
section { padding: 8px 16px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--dim); margin: 4px 0 6px; }
h3 { font-size: 13px; margin: 10px 0 4px; }
#timeline { border-bottom: 1px solid var(--line); }
.tl { display: flex; }
#lane-labels { width: 190px; flex: none; }
.lane-label { display: flex; align-items: center; padding-right: 8px; justify-content: flex-end; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
#timeline-body { position: relative; flex: 1; min-width: 0; border: 1px solid var(--line); }
#timeline-canvas { display: block; cursor: pointer; }
#timeline-cursor { position: absolute; top: -3px; bottom: -3px; width: 2px; margin-left: -1px; background: #111; display: none; pointer-events: none; }
#timeline-scale { position: relative; height: 16px; margin-left: 190px; color: var(--dim); font-size: 11px; }
.tick { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.tick.end { transform: none; }
.controls { display: flex; align-items: center; gap: 8px; margin: 4px 0 0 190px; }
#slider { flex: 1; }
#slider-label { min-width: 360px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
button { font: inherit; padding: 1px 8px; border: 1px solid var(--line); background: #fff; border-radius: 4px; cursor: pointer; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
main > div { min-width: 0; }
main > div:first-child { border-right: 1px solid var(--line); }
#list { height: 300px; overflow: auto; border: 1px solid var(--line); position: relative; background: #fff; }
#list-rows { position: relative; }
.row { position: absolute; left: 0; right: 0; height: 20px; display: flex; gap: 8px; align-items: center; padding: 0 6px;
  white-space: nowrap; cursor: pointer; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.row:hover { background: #eef3fa; }
.row.flagged { background: #fdecec; color: #a11d1d; }
.row.selected { background: #dce8f8; outline: 1px solid var(--accent); }
.c-seq { width: 52px; text-align: right; color: var(--dim); flex: none; }
.c-lane { width: 120px; flex: none; overflow: hidden; text-overflow: ellipsis; color: var(--dim); }
.c-op { width: 150px; flex: none; overflow: hidden; text-overflow: ellipsis; font-weight: 600; }
.c-text { flex: 1; overflow: hidden; text-overflow: ellipsis; }
.c-out { flex: none; max-width: 32%; overflow: hidden; text-overflow: ellipsis; color: #3a5a2a; }
#detail { margin-top: 8px; }
.detail-head .big { font-size: 15px; font-weight: 600; }
.fields { margin: 4px 0; word-break: break-all; }
.outcome { color: #3a5a2a; }
.bad-line { color: var(--bad); font-weight: 600; margin: 4px 0; }
.derived { max-height: 260px; overflow: auto; border: 1px solid var(--line); }
.drow { cursor: pointer; padding: 1px 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.drow:hover { background: #eef3fa; }
.drow.on { background: #fff4d6; }
.did { color: var(--dim); margin-right: 6px; }
.dop { font-weight: 600; margin-right: 6px; }
.chain { margin-top: 6px; }
.link { padding: 1px 0; }
.link .because { color: var(--dim); }
.link.stim { font-weight: 600; }
.finding { border: 1px solid #f0a3a3; border-left: 4px solid var(--bad); background: #fffafa; padding: 6px 8px; margin-bottom: 8px; border-radius: 3px; }
.goto { color: var(--bad); font-weight: 700; text-decoration: none; cursor: pointer; }
.goto:hover { text-decoration: underline; }
.msg { margin: 2px 0; }
.ok-line { color: #1d6b3c; }
.lock-chain { color: #444; margin: 4px 0; }
.scenario-title { font-weight: 600; margin-top: 6px; }
table.lockdep { border-collapse: collapse; margin-top: 4px; }
table.lockdep th, table.lockdep td { border: 1px solid var(--line); padding: 2px 10px; text-align: left; min-width: 200px; }
table.lockdep th { background: var(--panel); }
.deadlock { color: var(--bad); margin-top: 4px; }
.legend-item { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; }
.k-resv { background: repeating-linear-gradient(45deg, var(--resv), var(--resv) 3px, #d8dce2 3px, #d8dce2 6px); }
.k-dma { background: var(--dma); }
.k-map { background: var(--map); }
.k-bar { background: var(--bar); }
.k-pin { background: var(--pin); }
.owner { margin-bottom: 10px; }
.strip { overflow: hidden; border: 1px solid var(--line); padding: 4px 6px 2px; background: #fff; }
.track, .axis { display: flex; align-items: center; height: 16px; margin: 2px 0; }
.axis { height: 18px; }
.track-name { width: 70px; flex: none; color: var(--dim); font-size: 11px; }
.track-lane { position: relative; flex: 1; height: 12px; background: #f1f3f6; }
.axis .track-lane { background: none; }
.seg { position: absolute; top: 0; bottom: 0; border-radius: 2px; }
.gapmark { position: absolute; top: 0; bottom: 0; background: repeating-linear-gradient(90deg, transparent, transparent 3px, #e3e6ea 3px, #e3e6ea 4px); }
.axis-tick.end { border-left: none; border-right: 1px solid #b9c0ca; padding: 0 2px 0 0; }
.axis-tick { position: absolute; font-size: 10px; color: var(--dim); white-space: nowrap; border-left: 1px solid #b9c0ca; padding-left: 2px; }
table.ranges { border-collapse: collapse; margin-top: 6px; width: 100%; }
table.ranges th { text-align: left; color: var(--dim); font-weight: normal; border-bottom: 1px solid var(--line); padding: 1px 6px; }
table.ranges td { padding: 1px 6px; border-bottom: 1px solid #f0f2f5; white-space: nowrap; }
td.what { max-width: 340px; overflow: hidden; text-overflow: ellipsis; }
.ranges-box { max-height: 320px; overflow: auto; }
table.ranges th { position: sticky; top: 0; background: #fff; }
td.num { text-align: right; white-space: nowrap; }
.link-cell { cursor: pointer; color: var(--accent); }
#life-filter { width: 260px; font: inherit; padding: 2px 6px; border: 1px solid var(--line); border-radius: 4px; }
.life-row { padding: 3px 0; border-bottom: 1px solid #f0f2f5; }
.life-name { font-weight: 600; }
.life-now { color: var(--accent); font-weight: normal; }
.life-chips { display: flex; flex-wrap: wrap; align-items: center; gap: 2px; margin-top: 2px; }
.state { background: #eef1f5; border-radius: 3px; padding: 0 5px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; }
.ev { color: var(--dim); font-size: 11px; cursor: pointer; padding: 0 2px; }
.ev::before { content: "\\2192 "; }
.ev.here { color: #000; font-weight: 700; background: #fff4d6; }
.later { opacity: .45; }
`;

const BODY = `
<header>
  <h1 id="title"></h1><span id="desc"></span>
  <div id="chips"></div>
</header>
<section id="timeline">
  <h2>Timeline: a lane per process, task and device (red: a violation or divergence)</h2>
  <div class="tl"><div id="lane-labels"></div><div id="timeline-body"><canvas id="timeline-canvas"></canvas><div id="timeline-cursor"></div></div></div>
  <div id="timeline-scale"></div>
  <div class="controls">
    <button id="prev-flag" title="previous violation or divergence">&#x21E4;</button>
    <button id="prev" title="previous record (&larr;)">&lsaquo;</button>
    <input id="slider" type="range" min="0" max="0" value="0" step="1" aria-label="record">
    <button id="next" title="next record (&rarr;)">&rsaquo;</button>
    <button id="next-flag" title="next violation or divergence">&#x21E5;</button>
    <span id="slider-label"></span>
  </div>
</section>
<main>
  <div>
    <section>
      <h2>Records</h2>
      <div id="list"><div id="list-rows"></div></div>
      <div id="detail"></div>
    </section>
    <section>
      <h2>Lifecycles</h2>
      <input id="life-filter" type="search" placeholder="find an object: vfio_dma:5, group:26, device:0000:01:00.0">
      <div id="life-note" class="dim small"></div>
      <div id="life-list"></div>
    </section>
  </div>
  <div>
    <section>
      <h2>Violations and divergences</h2>
      <div id="findings"></div>
    </section>
    <section>
      <h2>IOVA map <span id="iova-at" class="dim"></span></h2>
      <div id="legend"></div>
      <div id="iova-maps"></div>
    </section>
  </div>
</main>
`;

/** The HTML document of a report. */
export function reportHtml(data: ReportData): string {
  const title = `iommu-model report: ${data.file}`.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${title}</title>
<style>${CSS}</style>
</head>
<body>
${BODY}
<script type="application/json" id="report-data">${dataJson(data)}</script>
<script>${CLIENT_JS}</script>
</body>
</html>
`;
}
