// The busy neighbours of the scale benchmark's busy mode: CPU hogs (../busy.mjs) that spin beside a
// scenario, started before it and SIGKILLed after it, and the note of what they did.
import { killHogs, startHogs } from "../busy.mjs";

/** SIGKILLs every hog still running, at once (for exit and signal handlers: synchronous). */
export const killBusyNeighbours = killHogs;

/**
 * Starts `count` hogs beside scenario `scenarioName`; resolves once they spin. `stop()` kills them
 * and resolves to the report's note line on what they did.
 */
export async function startBusyNeighbours(count, scenarioName) {
  const hogs = await startHogs(count);
  process.stderr.write(`scale: ${scenarioName}: ${count} hogs spinning (pids ${hogs.pids.join(", ")})\n`);
  return {
    async stop() {
      const done = await hogs.stop();
      const cpu =
        done.cpuSeconds === undefined
          ? ""
          : `, using ${done.cpuSeconds.toFixed(0)} CPU-s (${(done.cpuSeconds / done.seconds).toFixed(2)} cores on average)`;
      process.stderr.write(`scale: ${scenarioName}: hogs killed (pids ${done.pids.join(", ")})\n`);
      return `- busy, ${scenarioName}: ${done.count} hogs ran ${done.seconds.toFixed(0)} s beside the scenario${cpu}, then were killed`;
    },
  };
}
