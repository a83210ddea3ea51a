import { request as httpRequest } from "node:http";

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

/**
 * One HTTP request with the headers exactly as given, `host` included (fetch sets its own Host).
 * @returns the status and the body, parsed when it is JSON.
 */
export function request(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`${base}${path}`, { method: options.method ?? "GET", headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const json = (response.headers["content-type"] ?? "").startsWith("application/json");
        resolve({ status: response.statusCode ?? 0, body: json ? (JSON.parse(text) as unknown) : text });
      });
    });
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

export { JsonChild, TcpProxy, testServerUrl, until, withServer } from "@helix/testing";
