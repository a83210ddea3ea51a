/**
 * Helix's own plumbing, shared by its packages: the guard and its timeouts, retries, the generated
 * queries, validation helpers, timers. Not public: no compatibility promise, and any release may
 * change it. Applications use `@helix/db` (and `@helix/lock`, `@helix/cluster`,
 * `@helix/coordinator`).
 * @packageDocumentation
 */
export * from "./backoff";
export * from "./bulk";
export * from "./constants";
export * from "./emit";
export * from "./engine";
export * from "./errors";
export { classified, isConnectionError, isRetryableConflict, retryConflicts, type RetryConflictsOptions } from "./classify";
export * from "./policy";
export * from "./pool";
export * from "./migrate";
export type { ExecResult, QueryClient, QueryOptions } from "./generated/db";
export type { MigrationSource } from "./generated/migrations";
export { migrationSources } from "./generated/migrations";
/** sqlc-generated queries on helix_locks. */
export * as lockQueries from "./generated/locks";
/** sqlc-generated queries on helix_nodes, helix_cluster and helix_allocation. */
export * as clusterQueries from "./generated/cluster";
/** sqlc-generated queries of the coordinator: watching, planning reads, locking members, the audit trail. */
export * as coordinatorQueries from "./generated/coordinator";
/** sqlc-generated queries about the server itself (its clock). */
export * as serverQueries from "./generated/server";
export * from "./timers";
export * from "./transaction";
export type { ConnectionSource, TransactionConnection } from "./types";
export * from "./validate";
