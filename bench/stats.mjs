// Latency samples to the figures the reports print.

/** p50, p99, mean (ms) and ops/s of latency samples taken over `elapsedMs`. */
export function summarize(samples, elapsedMs) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    n: sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    opsPerSec: (sorted.length / elapsedMs) * 1000,
  };
}

/** Runs `clients` loops of `op` for `durationMs`; counts thrown errors instead of stopping. */
export async function concurrent(op, clients, durationMs) {
  const samples = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now();
        try {
          await op(client, i);
        } catch {
          errors++;
        }
        samples.push(performance.now() - t);
      }
    }),
  );
  return { ...summarize(samples, performance.now() - started), errors };
}

export const ms = (x) => x.toFixed(3);

/**
 * The raw round trip the reports compare with: a sequential single-row upsert on `pool`, `count`
 * times after a warm-up, in a table of its own.
 */
export async function rawUpsertRoundTrip(pool, count = 2500) {
  await pool.query("CREATE TABLE IF NOT EXISTS bench_raw (k VARCHAR(255) PRIMARY KEY, v BIGINT NOT NULL, t DATETIME(6) NOT NULL)");
  const samples = [];
  for (let i = 0; i < count + 500; i++) {
    const t = performance.now();
    await pool.query(
      "INSERT INTO bench_raw (k, v, t) VALUES (?, 1, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE v = v + 1, t = UTC_TIMESTAMP(6)",
      [`r${i % 100}`],
    );
    if (i >= 500) samples.push(performance.now() - t);
  }
  return summarize(
    samples,
    samples.reduce((a, b) => a + b, 0),
  );
}
