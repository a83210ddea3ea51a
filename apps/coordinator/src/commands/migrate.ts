import type { Command } from "commander";

import { createDatabaseIfMissing, describeServer, migrate, resolveConnectionOptions } from "@helix/db";

import { DEFAULT_MYSQL_URL } from "../config";
import type { CommandContext } from "./context";
import { withPool } from "./helpers";

/** `helix migrate`: creates the database if it is missing and applies the schema migrations. */
export function registerMigrate(program: Command, context: CommandContext): void {
  program
    .command("migrate")
    .description("create the database if it is missing and apply Helix's schema migrations")
    .option("--url <url>", `MySQL URL (default: HELIX_MYSQL_URL, else ${DEFAULT_MYSQL_URL})`)
    .action(async (options: { url?: string }) => {
      const { output } = context;
      // --url first: the configuration is not read at all then, so a broken one does not stop a migration.
      const url = options.url ?? context.config().mysqlUrl;
      const server = describeServer(resolveConnectionOptions(url));
      await createDatabaseIfMissing(url);
      const result = await withPool(url, (pool) =>
        migrate(pool, { onMigration: (m) => output.out(`applying migration ${m.version} (${m.name})`) }),
      );
      output.out(
        result.applied.length === 0
          ? `${server}: schema already at version ${result.version}, nothing to do`
          : `${server}: applied ${result.applied.length} migration(s), schema at version ${result.version}`,
      );
    });
}
