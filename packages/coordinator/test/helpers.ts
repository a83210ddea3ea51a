import { migratedDatabase as createMigrated, type MigratedDatabase } from "@helix/testing";
import { createPool, migrate } from "@helix/db";
import type { Pool } from "mysql2/promise";

import type { Coordinator, CoordinatorEvents } from "../src";

export type Fixture = MigratedDatabase<Pool>;

/** A fresh, migrated database and a pool on it, for one test file. */
export const migratedDatabase = (): Promise<Fixture> => createMigrated(createPool, migrate);

/** Resolves with the next emission of `event`, or rejects after `timeoutMs`. */
export function nextEvent<K extends keyof CoordinatorEvents>(
  coordinator: Coordinator,
  event: K,
  timeoutMs = 10_000,
): Promise<CoordinatorEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    coordinator.once(event, ((...args: CoordinatorEvents[K]) => {
      clearTimeout(timer);
      resolve(args);
    }) as never);
  });
}

export { FaultyPool, until } from "@helix/testing";
