import {
  assertMigrated,
  checkOptions,
  clusterQueries as q,
  type ConnectionSource,
  type DatabaseSource,
  openDatabase,
  type OpenedDatabase,
  type QueryClient,
  Status,
  transaction,
} from "@helix/db/internal";

import { UnknownTaskListError } from "./errors";
import { DEFAULT_MEMBER_TTL_MS, putTaskList, removeTaskList } from "./ownership";
import { checkName, checkPartitions, metadataJson } from "./validate";

/** A task list as the catalog holds it. */
export interface TaskList {
  /** The namespace the task list belongs to. */
  readonly domain: string;
  /** The task list's name within its domain. */
  readonly taskList: string;
  /** How many partitions it has, numbered from 0. */
  readonly partitions: number;
  /** The JSON object it was put with. */
  readonly metadata: Record<string, unknown>;
  /** `Status.Active`, or `Status.Deletable` while a removed task list's partitions are released. */
  readonly status: number;
  /** Grows on every change of the task list. */
  readonly version: number;
  /** When it was first put in the catalog, by the database clock. */
  readonly createdAt: Date;
  /** When it last changed, by the database clock. */
  readonly updatedAt: Date;
}

/** What to put in the catalog. */
export interface TaskListSpec {
  /** The namespace the task list belongs to. */
  domain: string;
  /** The task list's name within its domain. */
  taskList: string;
  /** 1 to 10,000. */
  partitions: number;
  /** A plain JSON object. @default {} */
  metadata?: Record<string, unknown>;
}

/**
 * The task lists of one cluster. Growing a task list adds unassigned partitions; shrinking or
 * removing it asks the owners of the partitions that disappear to release them, and the rows go
 * once they are free (see `OwnershipStore.prune`; the coordinator prunes in its rounds).
 *
 * A write locks the rows of the members it asks to release, and their heartbeats wait for it: each
 * of its statements is bounded by 40% of the shortest TTL among the cluster's members, and a write
 * that waits longer (for a connection that stopped answering, or for rows an owner's fenced
 * transaction holds) fails with `DatabaseUnavailableError`, changing nothing; try it again.
 */
export class Catalog implements AsyncDisposable {
  /** @internal Use {@link createCatalog}. */
  constructor(
    private readonly client: ConnectionSource,
    /** The cluster whose task lists this catalog reads and writes. */
    readonly cluster: string,
    private readonly closeSource: () => Promise<void>,
    private readonly writes: BoundedWrites,
  ) {}

  /**
   * Creates a task list, or changes its partition count or metadata, in one transaction.
   * @returns `created`, `changed` or `unchanged`.
   * @throws `InvalidArgumentError` for bad names, counts or metadata, before anything is written.
   */
  async putTaskList(spec: TaskListSpec): Promise<"created" | "changed" | "unchanged"> {
    const { domain, taskList, partitions, metadata } = resolveTaskListSpec(spec);
    const { result } = await this.writes.transaction((conn) =>
      putTaskList(conn, { cluster: this.cluster, domain, taskList, partitions, metadata }),
    );
    return result;
  }

  /** A task list, or null when the catalog does not have it. */
  async getTaskList(domain: string, taskList: string): Promise<TaskList | null> {
    const row = await q.getTaskList(this.client, {
      cluster: this.cluster,
      domain: checkName("domain", domain),
      taskList: checkName("taskList", taskList),
    });
    return row === null || row.status === Status.Inactive ? null : toTaskList(row);
  }

  /** Every task list of the cluster, removed ones still releasing included (status Deletable). */
  async listTaskLists(): Promise<TaskList[]> {
    return (await q.listTaskLists(this.client, { cluster: this.cluster })).map(toTaskList);
  }

  /**
   * Removes a task list: its partitions are released by their owners and deleted, then the task
   * list itself. @throws {@link UnknownTaskListError} when the catalog does not have it.
   */
  async removeTaskList(domain: string, taskList: string): Promise<void> {
    const key = { cluster: this.cluster, domain: checkName("domain", domain), taskList: checkName("taskList", taskList) };
    const { found } = await this.writes.transaction((conn) => removeTaskList(conn, key));
    if (!found) throw new UnknownTaskListError(this.cluster, key.domain, key.taskList);
  }

  /** Closes the pool if the catalog made it. */
  async close(): Promise<void> {
    await this.closeSource();
  }

  /** Same as {@link Catalog.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function toTaskList(row: q.GetTaskListRow): TaskList {
  return {
    domain: row.domain,
    taskList: row.taskList,
    partitions: row.partitions,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    status: row.status,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A {@link TaskListSpec} after its checks, with its metadata as JSON text. */
export interface ResolvedTaskListSpec {
  /** The domain, checked. */
  readonly domain: string;
  /** The task list's name, checked. */
  readonly taskList: string;
  /** The partition count, 1 to 10,000. */
  readonly partitions: number;
  /** The metadata as JSON text (`{}` when none was given). */
  readonly metadata: string;
}

/**
 * Checks a task list's spec as {@link Catalog.putTaskList} does, without writing anything: for
 * tools that want bad input reported before they connect.
 * @throws `InvalidArgumentError` naming the bad field.
 */
export function resolveTaskListSpec(spec: TaskListSpec): ResolvedTaskListSpec {
  const given = checkOptions("spec", spec);
  return {
    domain: checkName("domain", given.domain),
    taskList: checkName("taskList", given.taskList),
    partitions: checkPartitions(given.partitions),
    metadata: metadataJson(given.metadata),
  };
}

/** Options naming the cluster an object works on. */
export interface ClusterOptions {
  /** The cluster's name: 1 to 128 characters. */
  cluster: string;
}

/**
 * Opens the catalog of a cluster after checking the database and its schema.
 * Given a URL or options it makes its own pool, closed by `close()`.
 */
export function createCatalog(source: DatabaseSource, options: ClusterOptions): Promise<Catalog> {
  return openForCluster(source, options, (client, cluster, close, writes) => new Catalog(client, cluster, close, writes));
}

/** The share of the shortest member TTL that one statement of a catalog or store write may take. */
const WRITE_BOUND_SHARE_OF_TTL = 0.4;

const boundFor = (ttlMs: number): number => Math.max(1, Math.floor(ttlMs * WRITE_BOUND_SHARE_OF_TTL));

/** The bound when no member is registered, and of the read that finds the shortest TTL. */
const DEFAULT_WRITE_BOUND_MS = boundFor(DEFAULT_MEMBER_TTL_MS);

/**
 * @internal How a catalog or an ownership store writes: each write one transaction, every statement
 * of it bounded by a share of the shortest TTL among the cluster's registered members (read just
 * before; the default member TTL when none is registered). Such a write locks member rows (a
 * shrink's owners, a move's members) and those members' heartbeats wait for them: unbounded, a
 * write whose connection hung before COMMIT would keep them locked as long as the socket stayed
 * open, and the members would fence themselves. The bound ends the statement (and the session,
 * rolling the transaction back) while they still have most of their TTL.
 */
export class BoundedWrites {
  constructor(
    private readonly opened: OpenedDatabase,
    private readonly cluster: string,
  ) {}

  /** Runs `fn` in one transaction whose statements are bounded as above. */
  async transaction<T>(fn: (conn: QueryClient) => Promise<T>): Promise<T> {
    const shortest = await q.shortestMemberTtl(this.opened.withTimeout(DEFAULT_WRITE_BOUND_MS), { cluster: this.cluster });
    const ttlUs = shortest?.ttlUs ?? 0;
    return transaction(this.opened.withTimeout(ttlUs === 0 ? DEFAULT_WRITE_BOUND_MS : boundFor(ttlUs / 1000)), fn);
  }
}

/**
 * @internal Validates the cluster name, opens the source, checks the schema and builds the object;
 * closes what it opened when any step fails.
 */
export async function openForCluster<T>(
  source: DatabaseSource,
  options: ClusterOptions,
  make: (client: ConnectionSource, cluster: string, close: () => Promise<void>, writes: BoundedWrites) => T,
): Promise<T> {
  const cluster = checkName("cluster", checkOptions("options", options).cluster);
  const opened = await openDatabase(source);
  try {
    await assertMigrated(opened.client);
    return make(opened.client, cluster, () => opened.close(), new BoundedWrites(opened, cluster));
  } catch (error) {
    await opened.close().catch(() => undefined);
    throw error;
  }
}
