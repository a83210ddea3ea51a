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

// Plain browser JavaScript. Every piece of data goes into the page through textContent or
// setAttribute, never as markup.
const SCRIPT = String.raw`
"use strict";
(() => {
  const POLL_MS = __POLL_MS__;
  const root = document.getElementById("clusters");
  const updated = document.getElementById("updated");
  const banner = document.getElementById("error");
  const grids = new Map();
  let hasData = false;

  const h = (tag, props, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "style") Object.assign(node.style, value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
    }
    return node;
  };

  // A node keeps its colour while the page shows it: the lowest slot no other shown node holds,
  // given in member-list order. Slot i turns the hue by the golden angle, so that any number of
  // slots spread around the wheel with neighbours far apart, and steps through three lightnesses,
  // so that hues that come close again differ in lightness. OKLCH keeps equal lightness looking
  // equally light whatever the hue, none of them near the grey of free cells.
  const LIGHTNESS = [0.66, 0.52, 0.79];
  const slotColour = (slot) => "oklch(" + LIGHTNESS[slot % LIGHTNESS.length] + " 0.15 " + ((slot * 137.508) % 360).toFixed(1) + ")";
  const slots = new Map();
  const colour = (id) => {
    let slot = slots.get(id);
    if (slot === undefined) {
      const taken = new Set(slots.values());
      for (slot = 0; taken.has(slot); slot++);
      slots.set(id, slot);
    }
    return slotColour(slot);
  };
  const forgetColours = (clusters) => {
    const shown = new Set();
    for (const c of clusters) {
      for (const m of c.members) shown.add(m.nodeId);
      for (const t of c.taskLists) for (const o of t.owners || []) if (o !== null) shown.add(o);
      for (const e of c.recent) { if (e.from !== null) shown.add(e.from); if (e.to !== null) shown.add(e.to); }
    }
    for (const id of slots.keys()) if (!shown.has(id)) slots.delete(id);
    for (const c of clusters) for (const m of c.members) colour(m.nodeId);
  };
  const swatch = (id) => h("span", { class: "swatch", style: { background: id === null ? "var(--free)" : colour(id) } });

  const count = (n) => Number(n).toLocaleString("en-US");
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  const clock = (date) => pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  const age = (ms) => {
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return Math.round(ms / 60000) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  };

  const leaderView = (leader) => {
    if (leader === null) return h("span", { class: "fact alert", "data-testid": "leader" }, h("b", { text: "no leader" }));
    return h("span", { class: "fact" + (leader.held ? "" : " alert"), "data-testid": "leader", "data-epoch": leader.epoch },
      "leader ", h("b", { class: "id", text: leader.id }),
      leader.host === null ? null : h("span", { "data-testid": "leader-host" }, " on ", h("b", { text: leader.host }), " pid ", h("b", { text: leader.pid })),
      " \u00b7 epoch ", h("b", { text: leader.epoch }),
      leader.held ? null : " (lease expired)");
  };

  // live: registered; left: deregistered while live; dead: its TTL passed without a heartbeat.
  const STATE_TITLES = {
    live: "registered, heartbeats arriving",
    left: "left the cluster gracefully",
    dead: "its heartbeats stopped and its registration expired",
  };
  const generations = (g) => (g === null ? "\u2013" : g.min === g.max ? String(g.min) : g.min + "\u2013" + g.max);
  const membersView = (members) => {
    if (members.length === 0) return h("p", { class: "empty", text: "No members have joined." });
    return h("table", {},
      h("thead", {}, h("tr", {}, h("th", { text: "" }), h("th", { text: "Node" }), h("th", { text: "State" }), h("th", { text: "Incarnation" }),
        h("th", { class: "num", text: "Weight" }), h("th", { class: "num", text: "Heartbeat" }), h("th", { class: "num", text: "Partitions" }),
        h("th", { class: "num", text: "Generations" }))),
      h("tbody", {}, members.map((m) =>
        h("tr", { class: m.state, "data-testid": "member", "data-node-id": m.nodeId, "data-live": m.live, "data-state": m.state, "data-hosts-leader": m.hostsLeader },
          h("td", {}, swatch(m.nodeId)),
          h("td", { class: "id" }, m.nodeId,
            m.hostsLeader ? h("span", { class: "badge", "data-testid": "coordinator-host", title: "runs in the process of the leading coordinator", text: "coordinator host" }) : null),
          h("td", {}, h("span", { class: "pill " + m.state, title: STATE_TITLES[m.state], text: m.state })),
          h("td", { class: "id", "data-testid": "incarnation", title: m.incarnation, text: m.incarnation.slice(0, 8) }),
          h("td", { class: "num", text: m.weight }),
          h("td", { class: "num", text: age(m.heartbeatAgeMs) + " ago" }),
          h("td", { class: "num", text: m.partitions }),
          h("td", { class: "num", "data-testid": "generations", title: "lowest and highest generation of the partitions it owns", text: generations(m.generations) })))));
  };

  const gridView = (t) => {
    if (t.owners === null || t.states === null) {
      return h("p", { class: "empty", text: count(t.partitions) + " partitions: too many to draw one by one" });
    }
    return h("div", { class: "grid" }, t.owners.map((owner, p) => {
      const state = t.states[p] || "unassigned";
      return h("div", {
        class: "cell " + state,
        "data-testid": "cell",
        "data-owner": owner === null ? "" : owner,
        "data-state": state,
        title: "partition " + p + ": " + (owner === null ? "none" : owner) + " (" + state + ")",
        style: owner === null ? null : { backgroundColor: colour(owner) },
      });
    }));
  };

  const taskListView = (cluster, t) => {
    const name = t.domain + "/" + t.taskList;
    const key = JSON.stringify([cluster, t.domain, t.taskList]);
    const signature = JSON.stringify([t.partitions, t.owners, t.states]);
    let cached = grids.get(key);
    if (cached === undefined || cached.signature !== signature) {
      cached = { signature, node: gridView(t) };
      grids.set(key, cached);
    }
    cached.seen = true;
    return h("div", { class: "tasklist", "data-testid": "tasklist", "data-task-list": name },
      h("div", { class: "tl-head" },
        h("span", { class: "name", text: name }),
        h("span", { class: "meta", text: count(t.partitions) + " partitions" + (t.pendingHandoffs > 0 ? " \u00b7 " + t.pendingHandoffs + " pending hand-off" + (t.pendingHandoffs === 1 ? "" : "s") : "") }),
        t.status === "removing" ? h("span", { class: "pill removing", text: "removing" }) : null),
      cached.node);
  };

  const nodeRef = (id) => (id === null ? h("span", { class: "nobody", text: "none" }) : h("span", { class: "node" }, swatch(id), h("span", { class: "id", text: id })));
  const eventView = (e) => h("li", { "data-testid": "event" },
    h("div", { class: "line" },
      h("span", { class: "move" }, h("span", { class: "kind " + e.kind, text: e.kind }), h("span", { class: "where", text: e.domain + "/" + e.taskList + " #" + e.partition })),
      h("span", { class: "when", text: clock(new Date(e.at)) })),
    h("div", { class: "line" },
      h("span", { class: "move" }, nodeRef(e.from), h("span", { class: "arrow", text: "\u2192" }), nodeRef(e.to)),
      h("span", { class: "epoch", text: "epoch " + e.epoch + " \u00b7 gen " + e.generation })));

  const clusterView = (c) => {
    const live = c.members.filter((m) => m.live).length;
    const recent = c.recent.slice().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.id - a.id));
    return h("section", { class: "cluster", "data-testid": "cluster", "data-cluster": c.cluster },
      h("header", { class: "cluster-head" },
        h("h2", { text: c.cluster }),
        leaderView(c.leader),
        h("span", { class: "fact" }, "members ", h("b", { text: live + " live" }), " / " + c.members.length),
        h("span", { class: "fact" }, "partitions ", h("b", { text: count(c.partitions) })),
        h("span", { class: "fact" + (c.pendingHandoffs > 0 ? " alert" : "") }, "pending hand-offs ", h("b", { "data-testid": "pending", text: c.pendingHandoffs }))),
      h("div", { class: "body" },
        h("div", {},
          h("h3", { text: "Members" }),
          membersView(c.members),
          h("h3", { text: "Partitions" }),
          c.taskLists.some((t) => t.owners !== null) && h("div", { class: "legend" },
            h("span", {}, h("i", { class: "cell", style: { backgroundColor: slotColour(0) } }), "owned (colour of the member)"),
            h("span", {}, h("i", { class: "cell" }), "unassigned"),
            h("span", {}, h("i", { class: "cell releasing", style: { backgroundColor: slotColour(0) } }), "release requested"),
            h("span", {}, h("i", { class: "cell released", style: { backgroundColor: slotColour(0) } }), "released, awaiting its next owner")),
          c.taskLists.length === 0
            ? h("p", { class: "empty", text: "No task lists in the catalog." })
            : c.taskLists.map((t) => taskListView(c.cluster, t))),
        h("aside", {}, h("div", { class: "feed" },
          h("h3", { text: "Recent events" }),
          recent.length === 0 ? h("p", { class: "empty", text: "No events yet." }) : h("ol", { class: "events" }, recent.map(eventView))))));
  };

  const render = (clusters) => {
    forgetColours(clusters);
    for (const entry of grids.values()) entry.seen = false;
    const views = clusters.map(clusterView);
    for (const [key, entry] of grids) if (!entry.seen) grids.delete(key);
    const scrolled = root.querySelectorAll(".feed");
    const offsets = Array.from(scrolled, (feed) => feed.scrollTop);
    root.replaceChildren(...(views.length > 0 ? views : [h("p", { class: "empty", text: "This service coordinates no clusters." })]));
    root.querySelectorAll(".feed").forEach((feed, i) => { if (offsets[i]) feed.scrollTop = offsets[i]; });
  };

  const poll = async () => {
    try {
      const response = await fetch("api/status", { cache: "no-store", headers: { accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status + " " + response.statusText);
      const body = await response.json();
      render(body.clusters);
      hasData = true;
      updated.textContent = "updated at " + clock(new Date());
      banner.hidden = true;
    } catch (error) {
      banner.textContent = "Could not refresh the status: " + (error && error.message ? error.message : String(error)) +
        (hasData ? ". Showing the last data received (" + updated.textContent + ")." : ".");
      banner.hidden = false;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  };
  void poll();
})();
`.replace("__POLL_MS__", String(STATUS_PAGE_POLL_MS));

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
