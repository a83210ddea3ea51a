import { randomBytes } from "node:crypto";

import { Backoff } from "./backoff";
import { MigrationChecksumError, MigrationLockError, SchemaNotMigratedError } from "./errors";
import type { QueryClient } from "./generated/db";
import { bootstrapStatements, migrationSources, type MigrationSource } from "./generated/migrations";
import * as q from "./generated/schema";
import { guardClient } from "./policy";
import { checkInteger, defaultProcessId } from "./validate";

/** Longest migration lease or wait migrate() accepts: one day. */
const MAX_LOCK_MS = 86_400_000;

/** Options of {@link migrate}. Every field is optional. */
export interface MigrateOptions {
  /** How long to wait for another process's migration run to finish. @default 120000 */
  lockWaitMs?: number;
  /** Lifetime of the migration lease; it is renewed every third of it while migrating. @default 30000 */
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
  readonly applied: readonly { version: number; name: string }[];
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
 * progress statement by statement, so one interrupted by a crash resumes where it stopped.
 *
 * @throws {@link MigrationChecksumError} when an applied migration differs from this code's copy.
 * @throws {@link MigrationLockError} when the lease cannot be taken within `lockWaitMs`, or is lost.
 */
export async function migrate(pool: QueryClient, options: MigrateOptions = {}): Promise<MigrateResult> {
  const lockWaitMs = options.lockWaitMs ?? 120_000;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const owner = options.owner ?? defaultProcessId();
  checkInteger("lockWaitMs", lockWaitMs, 0, MAX_LOCK_MS, " number of milliseconds");
  checkInteger("lockTtlMs", lockTtlMs, 1, MAX_LOCK_MS, " number of milliseconds");

  const client = guardClient(pool);
  for (const statement of bootstrapStatements) await run(client, statement);
  if ((await schemaStatus(client)).pending.length === 0) {
    return { applied: [], version: latestVersion() };
  }

  const token = randomBytes(16).toString("hex");
  await acquireLease(client, owner, token, lockTtlMs, lockWaitMs, options.signal);
  const lease = keepLease(client, token, lockTtlMs);
  try {
    const applied: { version: number; name: string }[] = [];
    const rows = new Map((await checkedRows(client)).map((row) => [row.version, row]));
    for (const source of migrationSources) {
      const row = rows.get(source.version);
      if (row?.finishedAt != null) continue;
      options.onMigration?.({ version: source.version, name: source.name });
      await applyMigration(client, source, row?.statementsApplied ?? 0, token, lease);
      applied.push({ version: source.version, name: source.name });
    }
    return { applied, version: latestVersion() };
  } finally {
    lease.stop();
    await q.releaseSchemaLock(client, { token }).catch(() => undefined);
  }
}

/**
 * Reads which migrations are applied, without changing anything.
 * @throws {@link MigrationChecksumError} when an applied migration differs from this code's copy.
 */
export async function schemaStatus(client: QueryClient): Promise<SchemaStatus> {
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

async function applyMigration(
  client: QueryClient,
  source: MigrationSource,
  alreadyApplied: number,
  token: string,
  lease: Lease,
): Promise<void> {
  await q.startSchemaMigration(client, { version: source.version, name: source.name, checksum: source.checksum });
  for (let i = alreadyApplied; i < source.statements.length; i++) {
    lease.assertHeld();
    await run(client, source.statements[i]!);
    const recorded = await q.recordSchemaStatement(client, {
      statementsApplied: i + 1,
      version: source.version,
      token,
    });
    if (recorded !== 1) {
      throw new MigrationLockError(
        `lost the migration lease while applying migration ${source.version} (${source.name}), after ` +
          `statement ${i + 1} of ${source.statements.length}; run migrate again to resume`,
      );
    }
  }
  await q.finishSchemaMigration(client, { version: source.version });
}

async function acquireLease(
  client: QueryClient,
  owner: string,
  token: string,
  ttlMs: number,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = performance.now() + waitMs;
  const backoff = new Backoff(25, 500);
  for (;;) {
    signal?.throwIfAborted();
    if ((await q.acquireSchemaLock(client, { owner, token, ttlUs: ttlMs * 1000 })) > 0) return;
    if (performance.now() >= deadline) {
      throw new MigrationLockError(
        `another process has been migrating for more than ${waitMs} ms (lockWaitMs); ` +
          "wait for it to finish, or raise lockWaitMs for long migrations",
      );
    }
    await backoff.wait({ limitMs: deadline - performance.now(), signal });
  }
}

interface Lease {
  assertHeld(): void;
  stop(): void;
}

/** Renews the lease every third of its TTL until stopped; remembers if a renewal found it lost. */
function keepLease(client: QueryClient, token: string, ttlMs: number): Lease {
  let lost = false;
  const timer = setInterval(() => {
    q.renewSchemaLock(client, { ttlUs: ttlMs * 1000, token }).then(
      (renewed) => {
        if (renewed !== 1) lost = true;
      },
      // A failed renewal is not yet a lost lease; the next one may succeed before it expires.
      () => undefined,
    );
  }, Math.max(1, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    assertHeld() {
      if (lost) throw new MigrationLockError("lost the migration lease; run migrate again to resume");
    },
    stop() {
      clearInterval(timer);
    },
  };
}

async function run(client: QueryClient, statement: string): Promise<void> {
  await client.query({ sql: statement, values: [] });
}

function latestVersion(): number {
  return migrationSources.at(-1)?.version ?? 0;
}

function isMissingTable(error: unknown): boolean {
  return (error as { errno?: unknown } | null)?.errno === 1146;
}
