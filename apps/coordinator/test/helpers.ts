import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate } from "@helix/db";
import type { Pool } from "mysql2/promise";

import type { Output } from "../src";

export type Fixture = MigratedDatabase<Pool>;

/** A fresh, migrated database and a pool on it, for one test file. */
export const migratedDatabase = (): Promise<Fixture> => createMigrated(createPool, migrate);

/** An `Output` that keeps what the CLI printed. */
export function capture(): Output & { lines: string[]; errors: string[]; text(): string } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), text: () => [...lines, ...errors].join("\n") };
}

export { JsonChild, TcpProxy, testServerUrl, until, withServer } from "@helix/testing";
