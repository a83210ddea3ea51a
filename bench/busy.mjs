// A busy machine for the benchmarks: CPU hogs beside them.
//   import { startHogs } from "./busy.mjs";  const hogs = await startHogs(2);  ...;  const figures = await hogs.stop();
//   node busy.mjs hog       (one hog: what startHogs spawns)
// A hog is a child node process that computes SHA-256 hashes in a tight loop for as long as it
// runs, at the same priority as everything else. It yields to its event loop every 50 ms only to
// notice that it should end: its stdin closing (the parent ended or died) or its parent gone
// (reparented); the parent SIGKILLs it in stop() and killHogs(). Each hog's CPU time is read from
// /proc when it is stopped, to show it really took the CPU (Linux; other systems report none).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);

/** Every hog of this process that may still run. */
const running = new Set();

/** User + system CPU seconds of process `pid` (Linux /proc), or undefined. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), from field 3 on: utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Starts `count` hogs and resolves once each is spinning. `stop()` SIGKILLs them, waits for them to
 * exit and returns what they did: { count, pids, seconds, cpuSeconds (undefined off Linux) }.
 */
export async function startHogs(count) {
  const started = performance.now();
  const hogs = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, [self, "hog"], { stdio: ["pipe", "pipe", "inherit"] });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const hog = { child, exited };
    running.add(hog);
    void exited.then(() => running.delete(hog));
    const spinning = new Promise((resolve, reject) => {
      child.stdout.once("data", resolve);
      child.once("exit", (code, signal) => reject(new Error(`a hog exited before it spun (${code ?? signal})`)));
      child.once("error", reject);
    });
    return { ...hog, spinning };
  });
  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      const cpu = hogs.map((h) => cpuSeconds(h.child.pid));
      for (const h of hogs) kill(h);
      await Promise.all(hogs.map((h) => h.exited));
      return {
        count,
        pids: hogs.map((h) => h.child.pid),
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: cpu.some((c) => c === undefined) ? undefined : cpu.reduce((a, b) => a + b, 0),
      };
    })();
    return stopping;
  };
  try {
    await Promise.all(hogs.map((h) => h.spinning));
  } catch (error) {
    await stop();
    throw error;
  }
  return { pids: hogs.map((h) => h.child.pid), stop };
}

function kill({ child }) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** SIGKILLs every hog still running, at once (for exit and signal handlers: synchronous). */
export function killHogs() {
  for (const hog of running) kill(hog);
}

/** The hog itself. */
function hog() {
  const parent = process.ppid;
  process.stdin
    .on("end", () => process.exit(0))
    .on("error", () => process.exit(0))
    .resume();
  let data = createHash("sha256").update(String(process.pid)).digest();
  const spin = () => {
    if (process.ppid !== parent) process.exit(0);
    const until = performance.now() + 50;
    while (performance.now() < until) {
      for (let i = 0; i < 1000; i++) data = createHash("sha256").update(data).digest();
    }
    setImmediate(spin);
  };
  process.stdout.write("spinning\n");
  spin();
}

if (process.argv[1] === self && process.argv[2] === "hog") hog();
