/**
 * The base of every error Helix throws on purpose. `code` is stable and meant for programs;
 * `message` says what happened and what to do about it.
 */
export abstract class HelixError extends Error {
  /** A stable, machine-readable identifier of the failure, such as `HELIX_INVALID_ARGUMENT`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value given to Helix is malformed or out of range. Thrown before anything is written. */
export class InvalidArgumentError extends HelixError {
  readonly code = "HELIX_INVALID_ARGUMENT";

  /**
   * @param argument - the name of the offending argument or option, such as `ttlMs` or `url`
   * @param problem - what is wrong and how to fix it (the message is `argument: problem`)
   */
  constructor(
    readonly argument: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${argument}: ${problem}`, options);
  }
}

/** The database could not be reached, or the connection broke. The cause is the driver's error. */
export class DatabaseUnavailableError extends HelixError {
  readonly code = "HELIX_DATABASE_UNAVAILABLE";

  /** @param server - `host:port/database` of the server; never contains credentials */
  constructor(
    readonly server: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Helix's tables are missing or older than this code needs. Run the migrations. */
export class SchemaNotMigratedError extends HelixError {
  readonly code = "HELIX_SCHEMA_NOT_MIGRATED";

  /** @param pending - the versions of the migrations that have not been applied */
  constructor(readonly pending: readonly number[]) {
    super(
      `the Helix schema is not up to date: migration(s) ${pending.join(", ")} not applied. ` +
        "Run `helix migrate` or call migrate(pool) from @helix/db.",
    );
  }
}

/** An applied migration differs from the one this code carries: the schema was changed by hand,
 * or migrations were edited after they shipped. */
export class MigrationChecksumError extends HelixError {
  readonly code = "HELIX_MIGRATION_CHECKSUM_MISMATCH";

  constructor(
    /** The migration's version. */
    readonly version: number,
    /** The checksum of the migration this code carries. */
    readonly expected: string,
    /** The checksum recorded when the migration was applied. */
    readonly actual: string,
  ) {
    super(
      `migration ${version} was applied with checksum ${actual}, but this version of @helix/db has ` +
        `${expected}. Applied migrations must never change; add a new migration instead.`,
    );
  }
}

/**
 * A statement of a migration failed. The message names the migration and the statement and says
 * what to do; `cause` is the driver's error. The statements before it are applied and recorded, so
 * running migrate again, once the cause is fixed, resumes with this statement.
 */
export class MigrationFailedError extends HelixError {
  readonly code = "HELIX_MIGRATION_FAILED";

  /**
   * @param version - the migration's version
   * @param statement - which of its statements failed, from 1
   */
  constructor(
    readonly version: number,
    readonly statement: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** migrate() could not take the migration lease in time, or lost it while applying. */
export class MigrationLockError extends HelixError {
  readonly code = "HELIX_MIGRATION_LOCK";
}

/**
 * Whether `error`, or any error in its `cause` chain, is a {@link HelixError}, optionally with the
 * given code.
 */
export function isHelixError(error: unknown, code?: string): error is HelixError {
  return findHelixError(error, code) !== undefined;
}

/** The first {@link HelixError} (with the given code, if any) in the `cause` chain of `error`. */
export function findHelixError(error: unknown, code?: string): HelixError | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (current instanceof HelixError && (code === undefined || current.code === code)) return current;
    current = current.cause;
  }
  return undefined;
}

/** A long-lived object (a locker, a member, a coordinator) was used after it was closed. */
export class ClosedError extends HelixError {
  readonly code = "HELIX_CLOSED";

  /** @param what - what was closed, such as "locker" */
  constructor(readonly what: string) {
    super(`this ${what} is closed; create a new one`);
  }
}
