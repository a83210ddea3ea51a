// The scale benchmark's child processes (workers and coordinators, JSON lines on stdout): a group
// that spawns them and can kill every one still running, and waits on what they report.
import { setTimeout as sleep } from "node:timers/promises";

import { JsonChild } from "@helix/testing";

/**
 * The children of one run. `running` holds those that have not exited; `killAll()` is synchronous
 * so that exit and signal handlers can call it.
 */
export function createProcessGroup() {
  const running = new Set();
  return {
    running,
    /** Starts `scriptPath` with `args`; NODE_OPTIONS set to `nodeOptions`. */
    spawn(scriptPath, args, nodeOptions = "") {
      const child = JsonChild.start(scriptPath, args, { env: { NODE_OPTIONS: nodeOptions } });
      running.add(child);
      void child.exited.then(() => running.delete(child));
      return child;
    },
    killAll() {
      for (const child of running) child.kill();
    },
    /**
     * How many events each running child has reported so far: one end of a measurement window. A
     * child that has exited is not in it (see windowEvents in measure.mjs).
     */
    eventCounts() {
      return new Map([...running].map((c) => [c, c.events.length]));
    },
  };
}

/** Stops children at once: the scenario is over and its database is dropped next. */
export async function killChildren(list) {
  for (const child of list) child.kill();
  await Promise.all(list.map((c) => c.exited));
}

/** The last lines of a child's stderr, without stack frames. */
const stderrTail = (child) =>
  child.stderr
    .split("\n")
    .filter((l) => l.trim() !== "" && !/^\s+at /.test(l))
    .slice(-3)
    .join(" / ");

/** Throws when a child that should be running has exited. */
export function checkAlive(list) {
  for (const child of list) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`child ${child.name} exited (${child.process.exitCode ?? child.process.signalCode}): ${stderrTail(child)}`);
    }
  }
}

/** The first event `name` (matching `match`) of a child; throws when it exits first or after `timeoutMs`. */
export async function eventOf(child, name, timeoutMs, match = () => true) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = child.events.find((e) => e.event === name && match(e));
    if (found !== undefined) return found;
    checkAlive([child]);
    if (performance.now() > deadline) throw new Error(`no "${name}" from ${child.name} within ${timeoutMs} ms: ${stderrTail(child)}`);
    await sleep(20);
  }
}
