import { statusPageScript } from "./browser";

/** The `<title>` of the status page. */
export const STATUS_PAGE_TITLE = "Helix status";

/** How often the page asks `/api/status` for fresh data, in milliseconds. */
export const STATUS_PAGE_POLL_MS = 1000;

const STYLE = String.raw`
:root {
  --bg: #f5f6f8; --card: #fff; --line: #e2e5ea; --text: #1d2330; --muted: #6b7280;
  --free: #dfe3e8; --ok: #15803d; --ok-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --warn: #b45309; --warn-bg: #fef3c7;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.top { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #111827; color: #f9fafb; }
.top h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .01em; }
.top .updated { margin-left: auto; color: #cbd5e1; font-size: 12px; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 20px 32px; }
.banner { margin: 0 0 14px; padding: 10px 14px; border: 1px solid #fca5a5; border-radius: 8px; background: var(--bad-bg); color: var(--bad); }
.banner[hidden] { display: none; }
.empty { color: var(--muted); padding: 6px 0; }
.cluster { background: var(--card); border: 1px solid var(--line); border-radius: 12px; box-shadow: 0 1px 2px rgba(16,24,40,.05); margin-bottom: 20px; overflow: hidden; }
.cluster-head { display: flex; flex-wrap: wrap; align-items: center; gap: 10px 18px; padding: 14px 18px; border-bottom: 1px solid var(--line); }
.cluster-head h2 { margin: 0 6px 0 0; font-size: 17px; }
.fact { color: var(--muted); font-size: 13px; }
.fact b { color: var(--text); font-weight: 600; }
.fact.alert b { color: var(--warn); }
.cause { color: var(--muted); font-size: 12px; margin-left: 6px; }
.maintenance { margin: 0 0 12px; padding: 8px 12px; border: 1px solid #fcd34d; border-radius: 8px; background: #fffbeb; color: #92400e; font-size: 13px; }
.body { display: grid; grid-template-columns: minmax(0, 1fr) 360px; }
.body > div { padding: 14px 18px 18px; min-width: 0; }
.body > aside { position: relative; min-height: 320px; border-left: 1px solid var(--line); background: #fafbfc; min-width: 0; }
.feed { position: absolute; inset: 0; overflow-y: auto; padding: 14px 16px 18px; }
h3 { margin: 4px 0 8px; font-size: 12px; font-weight: 650; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
h3 + * { margin-top: 0; }
table { width: 100%; border-collapse: collapse; font-size: 13px; margin-bottom: 16px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 4px 8px; border-bottom: 1px solid var(--line); }
td { padding: 5px 8px; border-bottom: 1px solid #f0f2f5; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.left td, tr.dead td { color: var(--muted); }
.id { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -1px; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.pill.live { background: var(--ok-bg); color: var(--ok); }
.pill.left { background: var(--free); color: var(--text); }
.pill.returning { background: var(--warn-bg); color: var(--warn); }
.pill.dead { background: var(--bad-bg); color: var(--bad); }
.badge { display: inline-block; margin-left: 6px; padding: 0 6px; border-radius: 4px; font-family: system-ui, sans-serif; font-size: 11px; font-weight: 600; background: #e0e7ff; color: #3730a3; white-space: nowrap; }
.pill.removing { background: var(--warn-bg); color: var(--warn); }
.legend { display: flex; flex-wrap: wrap; gap: 14px; color: var(--muted); font-size: 12px; margin-bottom: 10px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.tasklist { margin-bottom: 14px; }
.tl-head { display: flex; align-items: baseline; gap: 10px; margin-bottom: 6px; }
.tl-head .name { font-weight: 600; overflow-wrap: anywhere; }
.tl-head .meta { color: var(--muted); font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 4px; padding: 2px; }
.cell { width: 16px; height: 16px; border-radius: 3px; background: var(--free); }
.cell.releasing { outline: 2px dashed #111827; outline-offset: 1px; background-image: repeating-linear-gradient(135deg, rgba(255,255,255,.65) 0 2px, transparent 2px 5px); }
.cell.released { opacity: .45; }
.legend .cell { display: inline-block; width: 12px; height: 12px; }
.events { list-style: none; margin: 0; padding: 0; font-size: 12.5px; }
.events li { padding: 6px 0; border-bottom: 1px solid #eceff3; }
.events .line { display: flex; align-items: baseline; justify-content: space-between; gap: 8px; }
.events .line + .line { margin-top: 3px; }
.events .move { display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 6px; min-width: 0; }
.events .node { display: inline-flex; align-items: baseline; gap: 4px; }
.events .node .swatch { width: 9px; height: 9px; border-radius: 2px; }
.events .nobody { color: var(--muted); font-style: italic; }
.events .when { font-family: var(--mono); color: var(--muted); font-size: 11.5px; white-space: nowrap; }
.events .kind { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px; font-weight: 600; background: #e0e7ff; color: #3730a3; }
.events .kind.release-requested { background: var(--warn-bg); color: var(--warn); }
.events .kind.reclaimed, .events .kind.forced { background: var(--bad-bg); color: var(--bad); }
.events .where { font-weight: 600; overflow-wrap: anywhere; }
.events .arrow { color: var(--muted); }
.events .epoch { color: var(--muted); font-size: 11px; white-space: nowrap; }
@media (max-width: 900px) { .body { grid-template-columns: 1fr; } .body > aside { min-height: 0; border-left: 0; border-top: 1px solid var(--line); } .feed { position: static; } }
`;

// The page's script: the source text of a typed function (see browser.ts), called with the poll
// interval. Read once: the text of a compiled function does not change.
const SCRIPT = `"use strict";\n(${statusPageScript.toString()})(${STATUS_PAGE_POLL_MS});`;

/**
 * The live status page served at `/`: one self-contained HTML document (inline CSS and script, no
 * external resources) that polls `/api/status` every second and draws, per cluster, the leader,
 * the members, every task list's partitions coloured by owner and the latest transitions.
 */
export function statusPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${STATUS_PAGE_TITLE}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="top"><h1>${STATUS_PAGE_TITLE}</h1><span class="updated" data-testid="updated" id="updated">loading\u2026</span></header>
<main>
<div class="banner" id="error" data-testid="error" role="alert" hidden></div>
<div id="clusters"></div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
