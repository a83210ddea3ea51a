import { chunks, clusterQueries as q, type ConnectionSource } from "@helix/db/internal";

/**
 * How often a member reads its assignment version between heartbeats: the default poll of a
 * coordinator, so that a hand-off waits for neither side's heartbeat.
 */
export const WATCH_INTERVAL_MS = 200;

/**
 * The longest a watch waits between reads while the database is slow or failing: a watch only
 * hastens what heartbeats bring anyway, so under load it backs off rather than add to it.
 */
export const MAX_WATCH_INTERVAL_MS = 10 * WATCH_INTERVAL_MS;

/** A member as a watch sees it. */
export interface Watcher {
  readonly nodeId: string;
  /** The incarnation whose version is wanted now. */
  incarnation(): string;
  /** Where to read: the member's own guarded client. */
  readonly client: ConnectionSource;
  /** Whether a read is wanted this time (not when a heartbeat, which returns the version, just went out). */
  due(): boolean;
  /** The incarnation's assignment version; null when the incarnation is not the registered one. */
  seen(version: number | null): void;
}

/**
 * The members of one cluster that share a pool (the members of one process, usually one) watched
 * together: every {@link WATCH_INTERVAL_MS}, one statement reads the assignment versions of those
 * due, a point read for a single member and a read of a few rows for many, rather than one
 * statement each.
 */
class WatchGroup {
  readonly #cluster: string;
  readonly #watchers = new Set<Watcher>();
  readonly #onEmpty: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** The watch read in flight, if any (settled when none is). */
  #reading: Promise<void> = Promise.resolve();
  /** Time to the next read: {@link WATCH_INTERVAL_MS}, longer while reads are slow or fail. */
  #intervalMs = WATCH_INTERVAL_MS;

  constructor(cluster: string, onEmpty: () => void) {
    this.#cluster = cluster;
    this.#onEmpty = onEmpty;
  }

  add(watcher: Watcher): void {
    this.#watchers.add(watcher);
    if (this.#timer === undefined) this.#schedule();
  }

  /** Stops watching `watcher`; resolves once a read in flight, which may be for it, is answered. */
  delete(watcher: Watcher): Promise<void> {
    this.#watchers.delete(watcher);
    if (this.#watchers.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#onEmpty();
    }
    return this.#reading;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#reading = this.#tick();
    }, this.#intervalMs);
    this.#timer.unref?.();
  }

  async #tick(): Promise<void> {
    const startedAt = performance.now();
    let failed = false;
    for (const run of chunks([...this.#watchers].filter((w) => w.due()))) {
      try {
        const rows = await q.watchMembers(run[0]!.client, { cluster: this.#cluster, nodeIds: run.map((w) => w.nodeId) });
        const byNode = new Map(rows.map((row) => [row.nodeId, row]));
        for (const watcher of run) {
          const row = byNode.get(watcher.nodeId);
          watcher.seen(row !== undefined && row.incarnation === watcher.incarnation() ? row.assignmentVersion : null);
        }
      } catch {
        // A failed watch changes nothing: the next watch or heartbeat reads again, and heartbeats
        // report the database's trouble (member:heartbeat-failed).
        failed = true;
      }
    }
    // Reads that take more than a quarter of the interval, or fail, space the next ones out (up to
    // MAX_WATCH_INTERVAL_MS); fast ones bring the interval back.
    const tookMs = performance.now() - startedAt;
    const wantedMs = failed ? this.#intervalMs * 2 : Math.max(WATCH_INTERVAL_MS, tookMs * 4);
    this.#intervalMs = Math.min(MAX_WATCH_INTERVAL_MS, wantedMs);
    if (this.#watchers.size > 0) this.#schedule();
    else this.#timer = undefined;
  }
}

/** Watch groups by the pool (or URL-made client) their members share, then by cluster. */
const groups = new WeakMap<object, Map<string, WatchGroup>>();

/**
 * Starts watching a member's assignment version with the other members of its cluster that share
 * `pool`: read every {@link WATCH_INTERVAL_MS} (one point read, shared by the members of a pool),
 * so that a release request (or a new partition) reaches the member within about a coordinator's
 * poll rather than at its next heartbeat. When it moved, the member reads its partitions, as a
 * heartbeat would; only heartbeats move the deadline. A watch due within an interval of a heartbeat
 * is skipped (the heartbeat returns the version), and a member whose heartbeats are that frequent
 * already is not watched. @returns a function that stops it, and resolves once no read for it is
 * in flight.
 */
export function watchMember(pool: object, cluster: string, watcher: Watcher): () => Promise<void> {
  let byCluster = groups.get(pool);
  if (byCluster === undefined) groups.set(pool, (byCluster = new Map<string, WatchGroup>()));
  let group = byCluster.get(cluster);
  if (group === undefined) {
    const owner = byCluster;
    group = new WatchGroup(cluster, () => owner.delete(cluster));
    byCluster.set(cluster, group);
  }
  const joined = group;
  joined.add(watcher);
  return () => joined.delete(watcher);
}
