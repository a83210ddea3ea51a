/// <reference lib="dom" />
// The status page's script, run in the browser. `statusPageScript` is sent as its own source text
// (see `index.ts`), so it must stand alone: it may use its parameter, the browser's globals and
// what it declares inside itself, nothing else of this module or any other (type imports aside,
// which compile to nothing). Every piece of data goes into the page through textContent or
// setAttribute, never as markup.
import type { ClusterStatus, LeaderStatus, MemberState, MemberStatus, TaskListStatus } from "../status";

/** What `/api/status` returns, as the page reads it (dates as text). */
type Cluster = ClusterStatus;
type Transition = Cluster["recent"][number];
/** A child of an element as `h` takes it: text, a node, or nothing. */
type Child = Node | string | number | null | undefined | false;
/** An attribute's value (`class` and `text` included): null and undefined set nothing. */
type Attribute = string | number | boolean | null | undefined;
/** An element's attributes, its text (`text`) and its inline style (`style`). */
type Props = Record<string, Attribute | Partial<CSSStyleDeclaration>>;

/** Draws the clusters from `/api/status` into the page, again every `pollMs`. */
export function statusPageScript(pollMs: number): void {
  const root = document.getElementById("clusters")!;
  const updated = document.getElementById("updated")!;
  const banner = document.getElementById("error")!;
  const grids = new Map<string, { signature: string; node: HTMLElement; seen: boolean }>();
  let hasData = false;

  const h = (tag: string, props: Props | null, ...children: (Child | Child[])[]): HTMLElement => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props ?? {})) {
      if (value === null || value === undefined) continue;
      if (typeof value === "object") Object.assign(node.style, value);
      else if (key === "class") node.className = String(value);
      else if (key === "text") node.textContent = String(value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "number" ? String(child) : child);
    }
    return node;
  };

  // A node keeps its colour while the page shows it: the lowest slot no other shown node holds,
  // given in member-list order. Slot i turns the hue by the golden angle, so that any number of
  // slots spread around the wheel with neighbours far apart, and steps through three lightnesses,
  // so that hues that come close again differ in lightness. OKLCH keeps equal lightness looking
  // equally light whatever the hue, none of them near the grey of free cells.
  const LIGHTNESS = [0.66, 0.52, 0.79];
  const slotColour = (slot: number): string => `oklch(${LIGHTNESS[slot % LIGHTNESS.length]} 0.15 ${((slot * 137.508) % 360).toFixed(1)})`;
  const slots = new Map<string, number>();
  const colour = (id: string): string => {
    let slot = slots.get(id);
    if (slot === undefined) {
      const taken = new Set(slots.values());
      for (slot = 0; taken.has(slot); slot++);
      slots.set(id, slot);
    }
    return slotColour(slot);
  };
  const forgetColours = (clusters: readonly Cluster[]): void => {
    const shown = new Set<string>();
    for (const c of clusters) {
      for (const m of c.members) shown.add(m.nodeId);
      for (const t of c.taskLists) for (const o of t.owners ?? []) if (o !== null) shown.add(o);
      for (const e of c.recent) {
        if (e.from !== null) shown.add(e.from);
        if (e.to !== null) shown.add(e.to);
      }
    }
    for (const id of slots.keys()) if (!shown.has(id)) slots.delete(id);
    for (const c of clusters) for (const m of c.members) colour(m.nodeId);
  };
  const swatch = (id: string | null): HTMLElement =>
    h("span", { class: "swatch", style: { background: id === null ? "var(--free)" : colour(id) } });

  const count = (n: number): string => Number(n).toLocaleString("en-US");
  const pad = (n: number): string => String(n).padStart(2, "0");
  const clock = (date: Date): string => `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const age = (ms: number): string => {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    if (ms < 3600000) return `${Math.round(ms / 60000)} min`;
    return `${(ms / 3600000).toFixed(1)} h`;
  };

  const leaderView = (leader: LeaderStatus | null): HTMLElement => {
    if (leader === null) return h("span", { class: "fact alert", "data-testid": "leader" }, h("b", { text: "no leader" }));
    return h(
      "span",
      { class: "fact" + (leader.held ? "" : " alert"), "data-testid": "leader", "data-epoch": leader.epoch },
      "leader ",
      h("b", { class: "id", text: leader.id }),
      leader.host === null
        ? null
        : h("span", { "data-testid": "leader-host" }, " on ", h("b", { text: leader.host }), " pid ", h("b", { text: leader.pid })),
      " \u00b7 epoch ",
      h("b", { text: leader.epoch }),
      leader.held ? null : " (lease expired)",
    );
  };

  const STATE_TITLES: Record<MemberState, string> = {
    live: "registered, heartbeats arriving",
    returning: "left saying it will be back: its partitions wait for its node id",
    left: "left the cluster gracefully",
    dead: "its heartbeats stopped and its registration expired",
  };
  const generations = (g: MemberStatus["generations"]): string =>
    g === null ? "\u2013" : g.min === g.max ? String(g.min) : `${g.min}\u2013${g.max}`;
  const heading = (text: string, numeric = false): HTMLElement => h("th", { class: numeric ? "num" : null, text });
  const membersView = (members: readonly MemberStatus[]): HTMLElement => {
    if (members.length === 0) return h("p", { class: "empty", text: "No members have joined." });
    const head = h("tr", {}, heading(""), heading("Node"), heading("State"), heading("Incarnation"));
    head.append(heading("Weight", true), heading("Heartbeat", true), heading("Partitions", true), heading("Generations", true));
    const row = (m: MemberStatus): HTMLElement =>
      h(
        "tr",
        {
          class: m.state,
          "data-testid": "member",
          "data-node-id": m.nodeId,
          "data-live": m.live,
          "data-state": m.state,
          "data-hosts-leader": m.hostsLeader,
        },
        h("td", {}, swatch(m.nodeId)),
        h(
          "td",
          { class: "id" },
          m.nodeId,
          m.hostsLeader
            ? h("span", {
                class: "badge",
                "data-testid": "coordinator-host",
                title: "runs in the process of the leading coordinator",
                text: "coordinator host",
              })
            : null,
        ),
        h("td", {}, h("span", { class: "pill " + m.state, title: STATE_TITLES[m.state], text: m.state })),
        h("td", { class: "id", "data-testid": "incarnation", title: m.incarnation, text: m.incarnation.slice(0, 8) }),
        h("td", { class: "num", text: m.weight }),
        h("td", { class: "num", text: age(m.heartbeatAgeMs) + " ago" }),
        h("td", { class: "num", text: m.partitions }),
        h("td", {
          class: "num",
          "data-testid": "generations",
          title: "lowest and highest generation of the partitions it owns",
          text: generations(m.generations),
        }),
      );
    return h("table", {}, h("thead", {}, head), h("tbody", {}, members.map(row)));
  };

  const gridView = (t: TaskListStatus): HTMLElement => {
    if (t.owners === null || t.states === null) {
      return h("p", { class: "empty", text: count(t.partitions) + " partitions: too many to draw one by one" });
    }
    const states = t.states;
    return h(
      "div",
      { class: "grid" },
      t.owners.map((owner, p) => {
        const state = states[p] ?? "unassigned";
        return h("div", {
          class: "cell " + state,
          "data-testid": "cell",
          "data-owner": owner ?? "",
          "data-state": state,
          title: `partition ${p}: ${owner ?? "none"} (${state})`,
          style: owner === null ? null : { backgroundColor: colour(owner) },
        });
      }),
    );
  };

  const taskListView = (cluster: string, t: TaskListStatus): HTMLElement => {
    const name = t.domain + "/" + t.taskList;
    const key = JSON.stringify([cluster, t.domain, t.taskList]);
    const signature = JSON.stringify([t.partitions, t.owners, t.states]);
    let cached = grids.get(key);
    if (cached === undefined || cached.signature !== signature) {
      cached = { signature, node: gridView(t), seen: true };
      grids.set(key, cached);
    }
    cached.seen = true;
    const pending = t.pendingHandoffs > 0 ? ` \u00b7 ${t.pendingHandoffs} pending hand-off${t.pendingHandoffs === 1 ? "" : "s"}` : "";
    return h(
      "div",
      { class: "tasklist", "data-testid": "tasklist", "data-task-list": name },
      h(
        "div",
        { class: "tl-head" },
        h("span", { class: "name", text: name }),
        h("span", { class: "meta", text: count(t.partitions) + " partitions" + pending }),
        t.status === "removing" ? h("span", { class: "pill removing", text: "removing" }) : null,
      ),
      cached.node,
    );
  };

  const nodeRef = (id: string | null): HTMLElement =>
    id === null
      ? h("span", { class: "nobody", text: "none" })
      : h("span", { class: "node" }, swatch(id), h("span", { class: "id", text: id }));
  const eventView = (e: Transition): HTMLElement =>
    h(
      "li",
      { "data-testid": "event" },
      h(
        "div",
        { class: "line" },
        h(
          "span",
          { class: "move" },
          h("span", { class: "kind " + e.kind, text: e.kind }),
          h("span", { class: "where", text: `${e.domain}/${e.taskList} #${e.partition}` }),
          e.cause === "unknown" ? null : h("span", { class: "cause", "data-testid": "cause", text: `(${e.cause})` }),
        ),
        h("span", { class: "when", text: clock(new Date(e.at)) }),
      ),
      h(
        "div",
        { class: "line" },
        h("span", { class: "move" }, nodeRef(e.from), h("span", { class: "arrow", text: "\u2192" }), nodeRef(e.to)),
        h("span", { class: "epoch", text: `epoch ${e.epoch} \u00b7 gen ${e.generation}` }),
      ),
    );

  const legend = (): HTMLElement =>
    h(
      "div",
      { class: "legend" },
      h("span", {}, h("i", { class: "cell", style: { backgroundColor: slotColour(0) } }), "owned (colour of the member)"),
      h("span", {}, h("i", { class: "cell" }), "unassigned"),
      h("span", {}, h("i", { class: "cell releasing", style: { backgroundColor: slotColour(0) } }), "release requested"),
      h("span", {}, h("i", { class: "cell released", style: { backgroundColor: slotColour(0) } }), "released, awaiting its next owner"),
    );

  const clusterView = (c: Cluster): HTMLElement => {
    const live = c.members.filter((m) => m.live).length;
    const recent = c.recent.slice().sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.id - a.id));
    const head = h(
      "header",
      { class: "cluster-head" },
      h("h2", { text: c.cluster }),
      leaderView(c.leader),
      h("span", { class: "fact" }, "members ", h("b", { text: live + " live" }), " / " + c.members.length),
      h("span", { class: "fact" }, "partitions ", h("b", { text: count(c.partitions) })),
      ...(c.placed > 0
        ? [
            h(
              "span",
              { class: "fact", title: "pinned or moved to a member by an operator (helix placements ls)" },
              "placed ",
              h("b", { "data-testid": "placed", text: count(c.placed) }),
            ),
          ]
        : []),
      h(
        "span",
        { class: "fact" + (c.pendingHandoffs > 0 ? " alert" : "") },
        "pending hand-offs ",
        h("b", { "data-testid": "pending", text: c.pendingHandoffs }),
      ),
    );
    // Maintenance holds every move in its scope: said above everything else of the cluster.
    const maintenance = c.maintenance.map((m) =>
      h(
        "p",
        { class: "maintenance", "data-testid": "maintenance" },
        h("b", {
          text: `Maintenance on (${m.taskList === null ? "whole cluster" : m.taskList.domain + "/" + m.taskList.taskList}): nothing moves. `,
        }),
        `${m.reason} \u2014 ${m.actor}, since ${m.startedAt.slice(0, 19).replace("T", " ")} UTC` +
          (m.expiresAt === null ? ", until ended" : `, until ${m.expiresAt.slice(0, 19).replace("T", " ")} UTC`),
      ),
    );
    const partitions =
      c.taskLists.length === 0
        ? h("p", { class: "empty", text: "No task lists in the catalog." })
        : c.taskLists.map((t) => taskListView(c.cluster, t));
    const feed = h(
      "div",
      { class: "feed" },
      h("h3", { text: "Recent events" }),
      recent.length === 0 ? h("p", { class: "empty", text: "No events yet." }) : h("ol", { class: "events" }, recent.map(eventView)),
    );
    return h(
      "section",
      { class: "cluster", "data-testid": "cluster", "data-cluster": c.cluster },
      head,
      ...maintenance,
      h(
        "div",
        { class: "body" },
        h(
          "div",
          {},
          h("h3", { text: "Members" }),
          membersView(c.members),
          h("h3", { text: "Partitions" }),
          c.taskLists.some((t) => t.owners !== null) && legend(),
          partitions,
        ),
        h("aside", {}, feed),
      ),
    );
  };

  const render = (clusters: readonly Cluster[]): void => {
    forgetColours(clusters);
    for (const entry of grids.values()) entry.seen = false;
    const views = clusters.map(clusterView);
    for (const [key, entry] of grids) if (!entry.seen) grids.delete(key);
    const offsets = Array.from(root.querySelectorAll<HTMLElement>(".feed"), (feed) => feed.scrollTop);
    root.replaceChildren(...(views.length > 0 ? views : [h("p", { class: "empty", text: "This service coordinates no clusters." })]));
    root.querySelectorAll<HTMLElement>(".feed").forEach((feed, i) => {
      if (offsets[i]) feed.scrollTop = offsets[i];
    });
  };

  const poll = async (): Promise<void> => {
    try {
      const response = await fetch("api/status", { cache: "no-store", headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
      const body = (await response.json()) as { clusters: Cluster[] };
      render(body.clusters);
      hasData = true;
      updated.textContent = "updated at " + clock(new Date());
      banner.hidden = true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      banner.textContent =
        `Could not refresh the status: ${message}` + (hasData ? `. Showing the last data received (${updated.textContent}).` : ".");
      banner.hidden = false;
    } finally {
      setTimeout(() => void poll(), pollMs);
    }
  };
  void poll();
}
