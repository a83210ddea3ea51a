// The fixture of the HTTP tests: a migrated database per test file and a service on it (clusters web
// and other, the admin token TOKEN), stopped after the file's tests; its log lines collect in logs,
// and the members a test pushes onto members leave after it. The bindings are live.
import { Writable } from "node:stream";

import type { Member } from "@helix/coordinator";
import { pino } from "pino";

import { loadConfig, startService, type Service } from "../src";
import { migratedDatabase, request, type Fixture } from "./helpers";

export const TOKEN = "t0ken-for-the-http-tests";
export let fx: Fixture;
export let service: Service;
export const logs: string[] = [];
export const members: Member[] = [];

export const logger = pino(
  { level: "debug" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  }),
);

export const config = (env: Record<string, string> = {}) =>
  loadConfig({
    HELIX_MYSQL_URL: fx.db.url,
    HELIX_CLUSTERS: "web,other",
    HELIX_HTTP_PORT: "0",
    HELIX_ADMIN_TOKEN: TOKEN,
    HELIX_LEASE_TTL_MS: "1000",
    HELIX_POLL_MS: "20",
    ...env,
  });

/** Fetches `path` from the fixture's service, or from the one at `base`. */
export const get = (path: string, base = service.url) => fetch(`${base}${path}`);

/** Puts a task list of one partition at `path` of the service at `base`, with the admin token. */
export const put = (base: string, path: string, headers: Record<string, string> = {}) =>
  request(base, path, { method: "PUT", headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body: '{"partitions": 1}' });

/** Registers the fixture's hooks in the calling test file. */
export function useHttpFixture(): void {
  beforeAll(async () => {
    fx = await migratedDatabase();
    service = await startService(config(), logger);
  });

  afterEach(async () => {
    await Promise.all(members.splice(0).map((m) => m.leave()));
  });

  afterAll(async () => {
    await service.stop();
    await fx.close();
  });
}
