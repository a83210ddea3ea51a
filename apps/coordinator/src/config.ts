import { readFileSync } from "node:fs";

import { DEFAULT_FORCE_RELEASE_AFTER_MS, DEFAULT_MEMBER_RETENTION_MS } from "@helix/coordinator";
import { HelixError, MAX_NAME_LENGTH, resolveConnectionOptions } from "@helix/db";
import { z } from "zod";

import { ALLOWED_HOST_ENTRY } from "./hosts";
import { STATUS_PAGE_POLL_MS } from "./page";

/** The database URL used when HELIX_MYSQL_URL is not set: a local server, database `helix`. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/helix";

/**
 * How long the service reuses a cluster's status for `/api/status` and `/metrics`: the status
 * page's poll interval, so that any number of open pages cost one read per cluster per poll.
 */
export const STATUS_CACHE_MS = STATUS_PAGE_POLL_MS;

/** A configuration variable is missing, malformed or out of range. */
export class ConfigError extends HelixError {
  readonly code = "HELIX_INVALID_CONFIG";

  /**
   * @param variable - the variable's name, such as `HELIX_HTTP_PORT`
   * @param source - where it came from: "the environment" or `file:line`
   */
  constructor(
    readonly variable: string,
    readonly source: string,
    message: string,
  ) {
    super(`${variable} (from ${source}): ${message}`);
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** The longest retention a variable takes. */
const TEN_YEARS_MS = 3650 * 86_400_000;

/**
 * How long an idle lock row is kept unless HELIX_LOCK_RETENTION_MS says otherwise: a day, far
 * beyond any lease TTL (at most a day), so a key used daily keeps its row.
 */
export const DEFAULT_LOCK_RETENTION_MS = 86_400_000;

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );

const name = z
  .string()
  .trim()
  .min(1)
  .max(MAX_NAME_LENGTH)
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]+$/);

/**
 * Every variable the service reads, with its default and rule. The reference table in docs/operations.md
 * lists the same; `helix serve --help` prints it.
 */
export const variables = {
  HELIX_MYSQL_URL: {
    description: "MySQL URL: mysql://user:password@host:port/database (?connectionLimit=&connectTimeoutMs=)",
    default: DEFAULT_MYSQL_URL,
    schema: z.string().superRefine((url, ctx) => {
      try {
        resolveConnectionOptions(url);
      } catch (error) {
        // resolveConnectionOptions never puts the password in its messages.
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    }),
  },
  HELIX_CLUSTERS: {
    description: "clusters to coordinate, comma-separated",
    default: "default",
    schema: z
      .string()
      .transform((s) => s.split(",").map((c) => c.trim()))
      .pipe(z.array(name, { error: "each cluster name must be 1 to 128 characters without control characters" }).min(1)),
  },
  HELIX_HTTP_HOST: { description: "address the HTTP server binds", default: "127.0.0.1", schema: z.string().trim().min(1) },
  HELIX_HTTP_PORT: { description: "HTTP port (0: any free port)", default: "7400", schema: integer(0, 65_535) },
  HELIX_ALLOWED_HOSTS: {
    description:
      "Host names the HTTP server answers besides localhost, IP addresses and HELIX_HTTP_HOST, comma-separated (.example.com: it and its subdomains; *: any); others get 403",
    default: "",
    schema: z
      .string()
      .transform((s) =>
        s
          .split(",")
          .map((h) => h.trim())
          .filter((h) => h !== ""),
      )
      .pipe(
        z.array(
          z.string().regex(ALLOWED_HOST_ENTRY, {
            error:
              'each entry must be a host name without port or scheme, such as helix.example.com; ".example.com" for it and its subdomains; or *',
          }),
        ),
      ),
  },
  HELIX_ADMIN_TOKEN: {
    description: "bearer token for HTTP endpoints that change state; unset disables them",
    default: "",
    schema: z.string().refine((t) => t === "" || t.length >= 16, { error: "must be at least 16 characters (or unset)" }),
  },
  HELIX_LOG_LEVEL: { description: `log level: ${LOG_LEVELS.join(", ")}`, default: "info", schema: z.enum(LOG_LEVELS) },
  HELIX_AUTO_MIGRATE: {
    description: "create the database if missing and apply migrations at start (true/false)",
    default: "true",
    schema: z.enum(["true", "false"]).transform((v) => v === "true"),
  },
  HELIX_LEASE_TTL_MS: { description: "leadership lease TTL", default: "5000", schema: integer(100, 3_600_000) },
  HELIX_POLL_MS: { description: "how often the leader looks for changes", default: "200", schema: integer(1, 3_600_000) },
  HELIX_FORCE_RELEASE_AFTER_MS: {
    description: "an unconfirmed release is forced after this long (never before the owner's TTL)",
    default: String(DEFAULT_FORCE_RELEASE_AFTER_MS),
    schema: integer(0, 86_400_000),
  },
  HELIX_REASSIGN_DELAY_MS: {
    description: "how long a vanished member's partitions wait for it (0: reassign at once)",
    default: "0",
    schema: integer(0, 86_400_000),
  },
  HELIX_MEMBER_RETENTION_MS: {
    description: "how long a member that left or died is kept before a round deletes it (never while it owns partitions)",
    default: String(DEFAULT_MEMBER_RETENTION_MS),
    schema: integer(60_000, TEN_YEARS_MS),
  },
  HELIX_LOCK_RETENTION_MS: {
    description: "how long a released or expired lock row is kept before the hourly prune deletes it (0: never prune)",
    default: String(DEFAULT_LOCK_RETENTION_MS),
    schema: integer(0, TEN_YEARS_MS),
  },
  HELIX_SHUTDOWN_TIMEOUT_MS: {
    description: "longest a graceful shutdown may take before the process exits anyway",
    default: "10000",
    schema: integer(1, 600_000),
  },
} as const;

type Variables = typeof variables;
type Parsed = { [K in keyof Variables]: z.output<Variables[K]["schema"]> };

/** The service's configuration, validated. `mysqlUrl` holds the password: never log it; log `server`. */
export interface ServiceConfig {
  readonly mysqlUrl: string;
  readonly clusters: readonly string[];
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** HELIX_ALLOWED_HOSTS: Host names answered besides localhost names, IP addresses and `host`. */
    readonly allowedHosts: readonly string[];
    /** How long a cluster's status is reused; {@link STATUS_CACHE_MS}, not a variable. 0: read per request. */
    readonly statusCacheMs: number;
  };
  /** Null when state-changing HTTP endpoints are disabled. */
  readonly adminToken: string | null;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly autoMigrate: boolean;
  readonly coordinator: {
    readonly leaseTtlMs: number;
    readonly pollMs: number;
    readonly forceReleaseAfterMs: number;
    readonly reassignDelayMs: number;
    readonly memberRetentionMs: number;
  };
  /** HELIX_LOCK_RETENTION_MS: idle lock rows older than this are pruned every hour; 0 never. */
  readonly lockRetentionMs: number;
  readonly shutdownTimeoutMs: number;
}

/** What a variable's name in a configuration file looks like; anything else is not echoed. */
const HELIX_VARIABLE_NAME = /^HELIX_[A-Z0-9_]{1,64}$/;

/**
 * Reads a configuration file of `NAME=value` lines (`#` starts a comment line). Only the variables
 * of the reference table may appear.
 * @returns each value with where it came from.
 * @throws {@link ConfigError} naming the file and line.
 */
export function readConfigFile(path: string): Map<string, { value: string; source: string }> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError("HELIX_CONFIG_FILE", "the command line", `cannot read ${path}: ${(error as Error).message}`);
  }
  const values = new Map<string, { value: string; source: string }>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const source = `${path}:${index + 1}`;
    const eq = line.indexOf("=");
    const key = eq === -1 ? "" : line.slice(0, eq).trim();
    // A malformed line is never shown, not even its start: it may be a secret written the wrong way
    // (`HELIX_MYSQL_URL: mysql://helix:password@db/helix`).
    if (!HELIX_VARIABLE_NAME.test(key)) {
      throw new ConfigError("HELIX_CONFIG_FILE", source, "expected HELIX_NAME=value (the line is not shown: it may hold a secret)");
    }
    if (!(key in variables)) {
      throw new ConfigError(key, source, `unknown variable; known: ${Object.keys(variables).join(", ")}`);
    }
    values.set(key, { value: line.slice(eq + 1).trim(), source });
  });
  return values;
}

/**
 * Builds the configuration from the environment, over an optional file (`HELIX_CONFIG_FILE`, or
 * `file` when given); unset variables take their defaults, which suit a developer machine with a
 * local MySQL. Reads nothing else.
 * @throws {@link ConfigError} naming the first bad variable and where it came from. Messages never
 *   contain the database password.
 */
export function loadConfig(env: NodeJS.ProcessEnv, file?: string): ServiceConfig {
  const path = file ?? (env.HELIX_CONFIG_FILE === undefined || env.HELIX_CONFIG_FILE === "" ? undefined : env.HELIX_CONFIG_FILE);
  const given = path === undefined ? new Map<string, { value: string; source: string }>() : readConfigFile(path);
  for (const key of Object.keys(variables)) {
    const value = env[key];
    if (value !== undefined) given.set(key, { value, source: "the environment" });
  }
  const parsed: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(variables)) {
    const entry = given.get(key);
    const result = spec.schema.safeParse(entry?.value ?? spec.default);
    if (!result.success) {
      const issue = result.error.issues[0];
      const value = entry?.value ?? spec.default;
      // A long value is cut short: the message says what to fix, and the value is the caller's.
      const cut = value.length > 40 ? `${value.slice(0, 40)}..." (${value.length} characters)` : `${value}"`;
      const shown = key === "HELIX_MYSQL_URL" || key === "HELIX_ADMIN_TOKEN" ? "" : ` (got "${cut})`;
      throw new ConfigError(key, entry?.source ?? "the defaults", `${issue?.message ?? "invalid"}${shown}`);
    }
    parsed[key] = result.data;
  }
  const v = parsed as Parsed;
  return Object.freeze({
    mysqlUrl: v.HELIX_MYSQL_URL,
    clusters: [...new Set(v.HELIX_CLUSTERS)],
    http: { host: v.HELIX_HTTP_HOST, port: v.HELIX_HTTP_PORT, allowedHosts: v.HELIX_ALLOWED_HOSTS, statusCacheMs: STATUS_CACHE_MS },
    adminToken: v.HELIX_ADMIN_TOKEN === "" ? null : v.HELIX_ADMIN_TOKEN,
    logLevel: v.HELIX_LOG_LEVEL,
    autoMigrate: v.HELIX_AUTO_MIGRATE,
    coordinator: {
      leaseTtlMs: v.HELIX_LEASE_TTL_MS,
      pollMs: v.HELIX_POLL_MS,
      forceReleaseAfterMs: v.HELIX_FORCE_RELEASE_AFTER_MS,
      reassignDelayMs: v.HELIX_REASSIGN_DELAY_MS,
      memberRetentionMs: v.HELIX_MEMBER_RETENTION_MS,
    },
    lockRetentionMs: v.HELIX_LOCK_RETENTION_MS,
    shutdownTimeoutMs: v.HELIX_SHUTDOWN_TIMEOUT_MS,
  });
}
