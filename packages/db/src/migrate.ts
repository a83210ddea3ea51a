import { randomBytes } from "node:crypto";

import { MAX_OWNER_LENGTH } from "./constants";
import {
  DatabaseUnavailableError,
  InvalidArgumentError,
  MigrationChecksumError,
  MigrationFailedError,
  MigrationLockError,
  SchemaNotMigratedError,
} from "./errors";
import type { QueryClient } from "./generated/db";
import { bootstrapStatements, migrationSources, type MigrationSource } from "./generated/migrations";
import * as q from "./generated/schema";
import { acquireLease, type MigrationLease } from "./migrate-lease";
import { appliedTest, mismatch, ownConnection } from "./migrate-resume";
import { guardClient } from "./policy";
import { transaction } from "./transaction";
import type { ConnectionSource } from "./types";
import { checkClient, checkMs, checkOptions, checkText, defaultProcessId, orDefault } from "./validate";

/** Longest migration lease or wait migrate() accepts: one day. */
const MAX_LOCK_MS = 86_400_000;

/** Options of {@link migrate}. Every field is optional. */
export interface MigrateOptions {
  /** How long to wait for another process's migration run to finish. @default 120000 */
  lockWaitMs?: number;
  /**
   * Lifetime of the migration lease; it is renewed every third of it while migrating, and sooner
   * after a renewal fails. Renewals run on another connection of the pool while a statement runs,
   * so it must outlast a gap in renewals (a database or network hiccup), not the longest statement.
   * If renewals fail for this long, another process may take over: migrate then stops with
   * {@link MigrationLockError}, and running it again resumes. @default 30000
   */
  lockTtlMs?: number;
  /** Who is migrating, as recorded in the lease. @default "host:pid:random" */
  owner?: string;
  /** Stops waiting for the lease (a migration already running finishes its current statement). */
  signal?: AbortSignal;
  /** Called before each migration is applied, for logs and progress output. */
  onMigration?: (migration: { version: number; name: string }) => void;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Migrations this call applied, oldest first; empty when the schema was already current. */
  readonly applied: readonly {
    /** The migration's version. */
    version: number;
    /** The migration's name, from its file name. */
    name: string;
  }[];
  /** The newest migration version now applied. */
  readonly version: number;
}

/** Where a database's schema stands relative to this version of @helix/db. */
export interface SchemaStatus {
  /** The newest migration version applied and finished (0 on an empty database). */
  readonly version: number;
  /** Versions not yet applied, or applied only in part, oldest first. */
  readonly pending: readonly number[];
}

/**
 * Brings the database's schema up to date by applying the migrations it lacks, in order.
 *
 * Safe to call from many processes at once: a lease row (judged by the database clock, renewed
 * while migrating) lets one process apply each migration exactly once while the others wait, and a
 * call that finds nothing to do returns without taking the lease. Each migration records its
 * progress statement by statement, so one interrupted by a crash resumes where it stopped, even
 * when the crash came between a statement and its record (DDL commits on its own): that statement
 * counts as applied when it fails with "already there" and the schema shows its effect.
 *
 * Pass a pool: the lease is renewed on another of its connections while a statement runs.
 *
 * @throws {@link MigrationChecksumError} when an applied migration differs from this code's copy.
 * @throws {@link MigrationLockError} when the lease cannot be taken within `lockWaitMs`, or is lost
 *   (the message says whether the statement it names ran; running migrate again resumes).
 * @throws {@link MigrationFailedError} when a statement fails, naming it.
 */
export async function migrate(pool: QueryClient, options: MigrateOptions = {}): Promise<MigrateResult> {
  checkClient("pool", pool);
  const given = checkOptions("options", options);
  const lockWaitMs = checkMs("lockWaitMs", orDefault(given.lockWaitMs, 120_000), 0, MAX_LOCK_MS);
  const lockTtlMs = checkMs("lockTtlMs", orDefault(given.lockTtlMs, 30_000), 1, MAX_LOCK_MS);
  const owner = checkText("owner", orDefault(given.owner, defaultProcessId()), MAX_OWNER_LENGTH);
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("signal", "must be an AbortSignal");
  }
  if (given.onMigration !== undefined && typeof given.onMigration !== "function") {
    throw new InvalidArgumentError("onMigration", "must be a function");
  }

  const client = guardClient(pool);
  for (const statement of bootstrapStatements) await client.query({ sql: statement, values: [] });
  if ((await schemaStatus(client)).pending.length === 0) {
    return { applied: [], version: latestVersion() };
  }

  const token = randomBytes(16).toString("hex");
  const lease = await acquireLease(client, owner, token, lockTtlMs, lockWaitMs, given.signal);
  try {
    const applied: { version: number; name: string }[] = [];
    // Read under the lease: no earlier holder can record anything any more.
    const rows = new Map((await checkedRows(client)).map((row) => [row.version, row]));
    const run: Run = { client, token, lease, transactions: undefined };
    let first = true;
    for (const source of migrationSources) {
      const row = rows.get(source.version);
      if (row?.finishedAt != null) continue;
      given.onMigration?.({ version: source.version, name: source.name });
      // Only the first unfinished migration can hold a statement applied but not recorded.
      await applyMigration(run, source, row?.statementsApplied ?? 0, first);
      first = false;
      applied.push({ version: source.version, name: source.name });
    }
    return { applied, version: latestVersion() };
  } finally {
    await lease.stop();
    await q.releaseSchemaLock(client, { token }).catch(() => undefined);
  }
}

/**
 * Reads which migrations are applied, without changing anything.
 * @throws {@link MigrationChecksumError} when an applied migration differs from this code's copy.
 */
export async function schemaStatus(client: QueryClient): Promise<SchemaStatus> {
  checkClient("client", client);
  let rows: q.ListSchemaMigrationsRow[];
  try {
    rows = await checkedRows(guardClient(client));
  } catch (error) {
    if (isMissingTable(error)) return { version: 0, pending: migrationSources.map((m) => m.version) };
    throw error;
  }
  const finished = new Set(rows.filter((r) => r.finishedAt !== null).map((r) => r.version));
  const pending = migrationSources.map((m) => m.version).filter((v) => !finished.has(v));
  return { version: Math.max(0, ...finished), pending };
}

/**
 * Throws unless every migration of this version of @helix/db has been applied. Packages call it in
 * their factories so that a missing schema is reported with what to run, not as a SQL error.
 * @throws {@link SchemaNotMigratedError}; `DatabaseUnavailableError` when the database cannot be used.
 */
export async function assertMigrated(client: QueryClient): Promise<void> {
  const status = await schemaStatus(client);
  if (status.pending.length > 0) throw new SchemaNotMigratedError(status.pending);
}

async function checkedRows(client: QueryClient): Promise<q.ListSchemaMigrationsRow[]> {
  const rows = await q.listSchemaMigrations(client);
  for (const row of rows) {
    const source = migrationSources.find((m) => m.version === row.version);
    if (source !== undefined && source.checksum !== row.checksum) {
      throw new MigrationChecksumError(row.version, source.checksum, row.checksum);
    }
  }
  return rows;
}

/** What applying a migration needs; `transactions` is learned at the first DML statement. */
interface Run {
  readonly client: ConnectionSource;
  readonly token: string;
  readonly lease: MigrationLease;
  transactions: boolean | undefined;
}

/**
 * Applies `source` from its statement `from` on, recording each. With `resuming`, statement `from`
 * is the first after the recorded progress: an interrupted run may have applied it unrecorded.
 */
async function applyMigration(run: Run, source: MigrationSource, from: number, resuming: boolean): Promise<void> {
  await q.startSchemaMigration(run.client, { version: source.version, name: source.name, checksum: source.checksum });
  for (let i = from; i < source.statements.length; i++) {
    await applyStatement(run, source, i, resuming && i === from);
  }
  await q.finishSchemaMigration(run.client, { version: source.version });
}

async function applyStatement(run: Run, source: MigrationSource, i: number, mayBeApplied: boolean): Promise<void> {
  const statement = source.statements[i]!;
  const where = `statement ${i + 1} of ${source.statements.length} of migration ${source.version} (${source.name})`;
  const record = (client: QueryClient): Promise<number> =>
    q.recordSchemaStatement(client, { statementsApplied: i + 1, version: source.version, token: run.token });

  await run.lease.ready(where);
  try {
    if (/^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(statement) && (run.transactions ??= await hasConnections(run.client))) {
      // DML is transactional: applied and recorded in one transaction, it cannot be left applied
      // but unrecorded, and it is undone when the record finds the lease lost.
      await transaction(run.client, async (conn) => {
        await conn.query({ sql: statement, values: [] });
        if ((await record(conn)) !== 1) throw lostLease(where, run.lease, false);
      });
      return;
    }
    await run.client.query({ sql: statement, values: [] });
  } catch (error) {
    if (error instanceof MigrationLockError) throw error;
    await recognizeApplied(run.client, where, source, i, error, mayBeApplied);
  }
  // The record checks the token: it succeeds only if this process held the lease without a break
  // since taking it (an expired lease is never renewed, and a takeover changes the token for good),
  // so no other process can have run this statement meanwhile.
  if ((await record(run.client)) !== 1) throw lostLease(where, run.lease, true);
}

/**
 * Returns when `statement` failed only because an interrupted run had already applied it (see
 * migrate-resume.ts); otherwise throws an error that says which statement failed and what to do.
 */
async function recognizeApplied(
  client: ConnectionSource,
  where: string,
  source: MigrationSource,
  i: number,
  error: unknown,
  mayBeApplied: boolean,
): Promise<void> {
  const statement = source.statements[i]!;
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as { errno?: unknown } | null)?.errno;
  const test = mayBeApplied ? appliedTest(statement) : undefined;
  const fail = (advice: string): MigrationFailedError =>
    new MigrationFailedError(source.version, i + 1, `${where} failed: ${message}. ${advice}`, { cause: error });

  if (error instanceof DatabaseUnavailableError) {
    throw new DatabaseUnavailableError(
      error.server,
      `${where} failed: ${message}. It may or may not have been applied; run migrate again once the database ` +
        "is available: it resumes with this statement, and counts it as applied if it finds its effect in place.",
      { cause: error },
    );
  }
  if (test !== undefined && typeof errno === "number" && test.errnos.has(errno)) {
    const problem = await mismatch(client, test);
    if (problem === undefined) return; // the interrupted run applied it: record it and go on
    throw fail(
      "It is the first statement not recorded as applied, and the error says its effect is already there, " +
        `but the schema does not show what it does: ${problem}. Something other than migrate changed the ` +
        "schema: put it back as it was before this statement, then run migrate again.",
    );
  }
  const record = `UPDATE helix_schema_migrations SET statements_applied = ${i + 1} WHERE version = ${source.version}`;
  throw fail(
    mayBeApplied && test === undefined
      ? "It is the first statement not recorded as applied. If an interrupted run applied it, check that its " +
          `effect is in place, record it with \`${record}\` and run migrate again; otherwise fix the cause ` +
          "and run migrate again: it resumes with this statement."
      : "The statements before it are applied and recorded. Fix the cause and run migrate again: it resumes " + "with this statement.",
  );
}

function lostLease(where: string, lease: MigrationLease, ran: boolean): MigrationLockError {
  return new MigrationLockError(
    `lost the migration lease while ${where} ran (${lease.describe()}), so another process may have taken ` +
      `it over and be applying this migration. ${ran ? "The statement ran but is not recorded" : "The statement was rolled back"}` +
      ", and this process stopped. Run migrate again: it resumes with this statement" +
      `${ran ? ", and counts it as applied when it finds its effect in place" : ""}. If this recurs, renewals of ` +
      "the lease are failing: check the connections to the database, or raise lockTtlMs.",
  );
}

/** Whether the client can lend a connection of its own (a pool can; a single connection cannot). */
async function hasConnections(client: ConnectionSource): Promise<boolean> {
  const conn = await ownConnection(client);
  conn?.release();
  return conn !== undefined;
}

function latestVersion(): number {
  return migrationSources.at(-1)?.version ?? 0;
}

function isMissingTable(error: unknown): boolean {
  return (error as { errno?: unknown } | null)?.errno === 1146;
}
