import { createHash } from "node:crypto";

import type { PluginOptions, SourceReader } from "./request";
import { splitStatements } from "./sql-lexer";
import { templateText } from "./template-text";

/**
 * The text of the generated `migrations.ts`: the bootstrap statements and every migration file
 * of the plugin options' folder, split into statements and checksummed.
 */
export function migrationsModule(options: PluginOptions, reader: SourceReader): string {
  const bootstrap = options.bootstrap === undefined ? [] : splitStatements(reader.readFile(options.bootstrap));
  const dir = options.migrations ?? "";
  const files = reader
    .listDir(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const versions = new Set<number>();
  let out =
    `/** One versioned schema migration: its statements, run in order, and a checksum of them. */\n` +
    `export interface MigrationSource {\n` +
    `  /** The number the file name starts with; migrations run in its order. */\n  readonly version: number;\n` +
    `  /** The rest of the file name, without \`.sql\`. */\n  readonly name: string;\n` +
    `  /** SHA-256 of the statements, recorded when the migration runs, to notice a migration changed after it ran. */\n` +
    `  readonly checksum: string;\n  /** The file's statements, in order. */\n  readonly statements: readonly string[];\n}\n\n` +
    `/** Idempotent statements that create the migration bookkeeping tables. */\n` +
    `export const bootstrapStatements: readonly string[] = [\n${bootstrap.map((s) => `  \`${templateText(s)}\`,\n`).join("")}];\n\n` +
    `/** Every migration, oldest first. */\n` +
    `export const migrationSources: readonly MigrationSource[] = [\n`;
  for (const file of files) {
    const match = /^(\d+)_([a-z0-9_]+)\.sql$/.exec(file);
    if (match === null) throw new Error(`migration file "${file}" must be named NNNN_name.sql (lower case)`);
    const version = Number(match[1]);
    if (versions.has(version)) throw new Error(`two migration files have version ${version}`);
    versions.add(version);
    const statements = splitStatements(reader.readFile(`${dir}/${file}`));
    if (statements.length === 0) throw new Error(`migration file "${file}" has no statements`);
    const checksum = createHash("sha256").update(statements.join(";\n")).digest("hex");
    out +=
      `  {\n    version: ${version},\n    name: ${JSON.stringify(match[2])},\n    checksum: "${checksum}",\n` +
      `    statements: [\n${statements.map((s) => `      \`${templateText(s)}\`,\n`).join("")}    ],\n  },\n`;
  }
  return out + `];\n`;
}
