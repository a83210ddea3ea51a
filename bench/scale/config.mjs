// The scale benchmark's settings, read once from the command line and the environment
// (HELIX_BENCH_SCALE_*, HELIX_BENCH_MYSQL_URL; scale.mjs lists them), and the limits that are not
// settings.

/** The library's default member TTL: the 1M and small rows run with it. */
export const DEFAULT_TTL_MS = 10_000;
/** The most partitions the catalog takes in one task list. */
export const MAX_PER_LIST = 10_000;

/** The settings of one run, from `argv` (process.argv) and `env` (process.env). */
export function readScaleConfig(argv = process.argv, env = process.env) {
  const number = (name, fallback) => Number(env[`HELIX_BENCH_SCALE_${name}`] ?? fallback);
  return Object.freeze({
    server: new URL(env.HELIX_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/"),
    largePartitions: number("PARTITIONS", 100_000),
    largeLists: number("LISTS", 10),
    largeWorkers: number("WORKERS", 4),
    largeTtlMs: number("TTL_MS", 3000),
    skipMillion: env.HELIX_BENCH_SCALE_SKIP_MILLION === "1",
    millionPartitions: number("MILLION_PARTITIONS", 1_000_000),
    millionProcesses: number("MILLION_PROCESSES", 10),
    millionMembersPerProcess: number("MILLION_MEMBERS_PER_PROCESS", 10),
    smallPartitions: number("SMALL_PARTITIONS", 200),
    smallRepeats: number("SMALL_REPEATS", 3),
    timeoutMs: number("TIMEOUT_S", 120) * 1000,
    millionTimeoutMs: number("MILLION_TIMEOUT_S", 300) * 1000,
    /** After a timeout, how much longer to wait so that the next rows can run. */
    settleMs: number("SETTLE_S", 240) * 1000,
    busy: argv.includes("--busy") || env.HELIX_BENCH_SCALE_BUSY === "1",
    busyHogs: number("BUSY_HOGS", 2),
    /** The scenarios to run (of large, small, million), or undefined for all. */
    only: env.HELIX_BENCH_SCALE_ONLY?.split(","),
  });
}
