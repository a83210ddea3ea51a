import type { DryRun, Maintenance, Placement, TransitionRecord } from "@helix/coordinator";

import type { ClusterStatus } from "./status";

/** A letter per member, in node-id order: A-Z, then a-z, then `#`. */
function letters(nodeIds: readonly string[]): Map<string, string> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return new Map([...nodeIds].sort().map((id, i) => [id, alphabet[i] ?? "#"]));
}

const ago = (ms: number): string => (ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

/** Enough of an incarnation (32 hex digits) to tell a member's processes apart by eye. */
const shortIncarnation = (incarnation: string): string => incarnation.slice(0, 8);

const range = (r: { min: number; max: number }): string => (r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`);

/** A maintenance in force as one line (its times as `Date`s, or as the ISO text of a status). */
export function describeMaintenance(
  m: Omit<Maintenance, "startedAt" | "expiresAt"> & { readonly startedAt: Date | string; readonly expiresAt: Date | string | null },
): string {
  const scope = m.taskList === null ? "whole cluster" : `${m.taskList.domain}/${m.taskList.taskList}`;
  const ends = m.expiresAt === null ? "until ended" : `until ${new Date(m.expiresAt).toISOString()}`;
  return `${scope}: ${JSON.stringify(m.reason)} by ${m.actor}, since ${new Date(m.startedAt).toISOString()}, ${ends}`;
}

/** A placement as one line: where, on whom, what kind, whether it holds, why and by whom. */
export function describePlacement(p: Omit<Placement, "createdAt"> & { readonly createdAt: Date | string }): string {
  const kind = p.kind === "pin" ? "pinned to" : "moved to";
  const lapsed = p.holds ? "" : " (lapsed: the member registered again or is gone)";
  const reason = p.reason === "" ? "" : ` ${JSON.stringify(p.reason)}`;
  return `${p.domain}/${p.taskList}#${p.partition} ${kind} ${p.nodeId}${lapsed}${reason} by ${p.actor}, since ${new Date(p.createdAt).toISOString()}`;
}

/** A transition of the audit trail as one line: when, what, where, from whom to whom, why and by whom. */
export function describeTransition(t: TransitionRecord): string {
  const cause = t.cause === "unknown" ? "" : ` (${t.cause})`;
  const by = t.actor === null ? "" : ` by ${t.actor}`;
  return (
    `${t.at.toISOString()}  ${t.kind} ${t.domain}/${t.taskList}#${t.partition}  ${t.from ?? "none"} -> ${t.to ?? "none"}` +
    `  generation ${t.generation}${cause}  epoch ${t.epoch}${by}`
  );
}

/**
 * The ownership table of a cluster as terminal lines: the leader, the members with a letter each
 * (live, left or dead; incarnation; generations of the partitions they own), and a row per task
 * list with the owner's letter per partition (`.` unassigned, `~` being released, `?` owned by a
 * member that is not live).
 */
export function renderStatus(status: ClusterStatus): string[] {
  const live = status.members.filter((m) => m.live);
  const letter = letters(status.members.map((m) => m.nodeId));
  const leader = status.leader?.held === true ? `leader ${status.leader.id} (epoch ${status.leader.epoch})` : "no leader";
  const lines = [
    `cluster ${status.cluster}: ${leader}, ${live.length} live member(s), ${status.partitions} partition(s), ` +
      `${status.pendingHandoffs} pending hand-off(s)`,
  ];
  for (const m of status.maintenance) lines.push(`  maintenance on, nothing moves: ${describeMaintenance(m)}`);
  if (status.placed > 0) lines.push(`  ${status.placed} partition(s) pinned or moved to a member by an operator (helix placements ls)`);
  for (const m of status.members) {
    const generations = m.generations === null ? "" : `  generation(s) ${range(m.generations)}`;
    lines.push(
      `  ${letter.get(m.nodeId)} ${m.nodeId}  ${m.state}  incarnation ${shortIncarnation(m.incarnation)}  weight ${m.weight}  ` +
        `${m.partitions} partition(s)${generations}  heartbeat ${ago(m.heartbeatAgeMs)} ago${m.hostsLeader ? "  (hosts the leader)" : ""}`,
    );
  }
  const width = Math.max(0, ...status.taskLists.map((t) => `${t.domain}/${t.taskList} (${t.partitions})`.length));
  for (const t of status.taskLists) {
    const label = `${t.domain}/${t.taskList} (${t.partitions})`.padEnd(width);
    if (t.owners === null || t.states === null) {
      lines.push(`  ${label}  too many partitions to draw; ${t.pendingHandoffs} pending hand-off(s)`);
      continue;
    }
    const cells = t.owners.map((owner, p) => {
      if (owner === null || t.states![p] === "unassigned") return ".";
      if (t.states![p] === "releasing" || t.states![p] === "released") return "~";
      return status.members.find((m) => m.nodeId === owner)?.live === true ? letter.get(owner)! : "?";
    });
    lines.push(`  ${label}  ${cells.join("")}${t.status === "removing" ? "  (being removed)" : ""}`);
  }
  return lines;
}

/** A dry run as terminal lines: one per transition, then what waits. */
export function renderPlan(plan: DryRun, cluster: string): string[] {
  const lines = [
    `cluster ${cluster}: the next round would make ${plan.transitions.length} transition(s); ` +
      `${plan.pendingHandoffs} hand-off(s) would be pending`,
  ];
  for (const t of plan.transitions) {
    const where = `${t.domain}/${t.taskList}#${t.partition}`;
    const placed = t.placed === true ? " (an operator placed it there)" : "";
    lines.push(
      t.type === "release"
        ? `  ask ${t.from} to release ${where} for ${t.to}${placed}`
        : `  give ${where} to ${t.to} (${t.reason}${t.from === null ? "" : `, from ${t.from}`})${placed}`,
    );
  }
  // A placement on a member that is not live is set aside: the plan says so, and where it went instead.
  const live = new Set(plan.snapshot.members.filter((m) => m.live && m.weight > 0).map((m) => m.nodeId));
  const setAside = plan.snapshot.placements.filter((p) => p.holds && !live.has(p.nodeId));
  if (setAside.length > 0) {
    lines.push(
      `  ${setAside.length} placement(s) set aside while their member is not live or drains: placed as any other partition until it is back (helix placements ls)`,
    );
  }
  if (plan.heldForMaintenance > 0) {
    lines.push(`  maintenance holds ${plan.heldForMaintenance} of these until it ends (helix maintenance ls)`);
  }
  if (plan.nextCheckMs !== null) lines.push(`  something waits on time: next check in ${Math.round(plan.nextCheckMs)} ms`);
  return lines;
}
