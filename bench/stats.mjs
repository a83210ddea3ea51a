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
