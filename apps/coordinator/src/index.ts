import { Command, CommanderError } from "commander";

import {
  createDatabaseIfMissing,
  createPool,
  describeServer,
  findHelixError,
  migrate,
  resolveConnectionOptions,
} from "@helix/db";

/** The database URL used when HELIX_MYSQL_URL is not set: a local server, database `helix`. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/helix";

/** Where the CLI writes; tests pass their own. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs the `helix` command line and resolves to the process exit code. It reads the environment
 * (`HELIX_MYSQL_URL`) but never exits the process itself.
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  output: Output = consoleOutput,
): Promise<number> {
  const program = new Command("helix")
    .description("Helix: distributed coordination for Node.js services on MySQL")
    .exitOverride()
    .configureOutput({ writeOut: (s) => output.out(s.trimEnd()), writeErr: (s) => output.err(s.trimEnd()) });

  program
    .command("migrate")
    .description("create the database if it is missing and apply Helix's schema migrations")
    .option("--url <url>", "MySQL URL (default: $HELIX_MYSQL_URL, else " + DEFAULT_MYSQL_URL + ")")
    .action(async (options: { url?: string }) => {
      const url = options.url ?? env.HELIX_MYSQL_URL ?? DEFAULT_MYSQL_URL;
      const server = describeServer(resolveConnectionOptions(url));
      await createDatabaseIfMissing(url);
      const pool = await createPool(url);
      try {
        const result = await migrate(pool, {
          onMigration: (m) => output.out(`applying migration ${m.version} (${m.name})`),
        });
        output.out(
          result.applied.length === 0
            ? `${server}: schema already at version ${result.version}, nothing to do`
            : `${server}: applied ${result.applied.length} migration(s), schema at version ${result.version}`,
        );
      } finally {
        await pool.end();
      }
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const helix = findHelixError(error);
    output.err(`helix: ${helix ? `${helix.message} [${helix.code}]` : String(error)}`);
    return 1;
  }
}
