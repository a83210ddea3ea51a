// What applications use of @helix/db: pools, migrations, transactions, errors and the values its
// columns hold. Helix's own packages share more through `@helix/db/internal`, which is not public.
export {
  ClosedError,
  DatabaseUnavailableError,
  findHelixError,
  HelixError,
  InvalidArgumentError,
  isHelixError,
  MigrationChecksumError,
  MigrationFailedError,
  MigrationLockError,
  SchemaNotMigratedError,
} from "./errors";
export {
  MAX_LOCK_KEY_LENGTH,
  MAX_NAME_LENGTH,
  MAX_OWNER_LENGTH,
  PartitionState,
  Status,
  TransitionCause,
  TransitionKind,
} from "./constants";
export { SafeEmitter } from "./emit";
export {
  createDatabaseIfMissing,
  createPool,
  describeServer,
  resolveConnectionOptions,
  type ConnectionOptions,
  type DatabaseSource,
  type ResolvedConnectionOptions,
} from "./pool";
export { assertMigrated, migrate, schemaStatus, type MigrateOptions, type MigrateResult, type SchemaStatus } from "./migrate";
export { transaction, type TransactionOptions } from "./transaction";
export type { ExecResult, QueryClient, QueryOptions } from "./generated/db";
export type { ConnectionSource, TransactionConnection } from "./types";
