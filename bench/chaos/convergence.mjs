// The chaos harness's convergence check (see ../chaos.mjs): whether, at this moment, every partition
// is owned, balanced across the workers, and each worker believes it owns exactly what the
// allocation table gives it.

/** What a worker believes it owns now, from its events since it last started. */
function beliefs(slot) {
  const owned = new Map();
  for (const e of slot.child.events) {
    const key = `${e.taskList}/${e.partition}`;
    if (e.event === "assigned") owned.set(key, e.generation);
    if (e.event === "released" || e.event === "lost") owned.delete(key);
  }
  return owned;
}

/**
 * Why the cluster is not converged yet, or null if it is. `admin`: the harness's pool; `workers`: the
 * worker slots (see slots.mjs), each with its current process.
 */
export async function whyNotConverged({ admin, cluster, workers }) {
  const [rows] = await admin.query(
    `SELECT a.task_list, a.partition_id, a.node_id, a.state, a.generation FROM helix_allocation AS a
     JOIN helix_cluster AS c ON c.cluster = a.cluster AND c.domain = a.domain AND c.task_list = a.task_list
     WHERE a.cluster = ? AND c.status = 1 AND a.partition_id < c.partitions`,
    [cluster],
  );
  const [[{ total }]] = await admin.query(
    "SELECT COALESCE(SUM(partitions), 0) AS total FROM helix_cluster WHERE cluster = ? AND status = 1",
    [cluster],
  );
  const ids = new Set(workers.map((s) => s.id));
  const open = rows.filter((r) => r.state !== 1 || !ids.has(r.node_id));
  if (rows.length !== Number(total) || open.length > 0) {
    return `${Number(total) - rows.length} partitions without a row; not assigned: ${open
      .slice(0, 5)
      .map((r) => `${r.task_list}/${r.partition_id} state ${r.state} at ${r.node_id}`)
      .join(", ")}`;
  }
  const perList = new Map();
  for (const r of rows) {
    const counts = perList.get(r.task_list) ?? new Map([...ids].map((id) => [id, 0]));
    counts.set(r.node_id, counts.get(r.node_id) + 1);
    perList.set(r.task_list, counts);
  }
  const uneven = [...perList].find(([, c]) => Math.max(...c.values()) - Math.min(...c.values()) > 1);
  if (uneven !== undefined) return `unbalanced ${uneven[0]}: ${[...uneven[1]].map(([id, n]) => `${id} ${n}`).join(", ")}`;
  for (const slot of workers) {
    const believed = beliefs(slot);
    const mine = rows.filter((r) => r.node_id === slot.id);
    if (believed.size !== mine.length || mine.some((r) => believed.get(`${r.task_list}/${r.partition_id}`) !== Number(r.generation))) {
      const events = slot.child.events
        .slice(-6)
        .map((e) => JSON.stringify(e))
        .join(" ");
      const [[node]] = await admin.query(
        "SELECT incarnation, status, expires_at > UTC_TIMESTAMP(6) AS live FROM helix_nodes WHERE cluster = ? AND node_id = ?",
        [cluster, slot.id],
      );
      const [owned] = await admin.query(
        "SELECT incarnation, COUNT(*) AS n FROM helix_allocation WHERE cluster = ? AND node_id = ? GROUP BY incarnation",
        [cluster, slot.id],
      );
      return (
        `${slot.id} believes ${believed.size} partitions, the table gives it ${mine.length} ` +
        `(by incarnation: ${owned.map((o) => `${o.incarnation === node?.incarnation ? "live" : o.incarnation} ${o.n}`).join(", ")}; ` +
        `node status ${node?.status} live ${node?.live}); last events: ${events}`
      );
    }
  }
  return null;
}
