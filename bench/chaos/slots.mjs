// The chaos harness's processes, by slot (see ../chaos.mjs): a slot is one coordinator or worker
// node id, and runs one process after another of it. Faults kill a slot's process (it starts again
// later), pause it (SIGSTOP, then SIGCONT; the stopped spans are recorded), or reuse its node id in
// a new process while the old one is paused. Exits no process was told to make are recorded.
import { join } from "node:path";

import { JsonChild } from "@helix/testing";

/** The monotonic clock of the workers' events and logs, in µs (shared by every process on the machine). */
export const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Clocks are offset by minutes in both directions on some of the processes.
const CLOCK_OFFSETS_MS = [-5 * 60_000, 0, 3 * 60_000, 90_000, -2 * 60_000, 0, 7 * 60_000, -45_000];

/** The last lines a process wrote to stderr, on one line. */
const stderrTail = (child, lines) => child.stderr.trim().split("\n").slice(-lines).join(" | ");

export class Slots {
  /**
   * The slots: `{ kind, index, id, offset }`, and once started `run` (how many processes it has
   * run), `child` (its process), `paused`, `down`, `expectExit` and `expectCode`.
   */
  all = [];
  /** Every process started, by the name of its ownership log (`worker-3.2`: slot worker-3, second run). */
  processes = new Map();
  /** Exits no process was told to make (crashes, unhandled rejections): `{ id, code, signal, stderr }`. */
  unexpected = [];
  /** The old processes of reused node ids: out of their slots' books, told to leave once resumed. */
  orphans = [];
  /** When each process was stopped (SIGSTOP) and resumed: a process fenced after a pause was not fenced by slowness. */
  stoppedSpans = new Map();
  /** The timers of faults in progress (a restart after a kill, the end of a pause). */
  #timers = new Set();
  #options;

  /**
   * `workerScript` and `coordinatorScript` are the children's scripts; `childUrl` the database they
   * connect to; `logDir` where each worker process writes its ownership log; `unsafe` the workers'
   * unsafe mode (or ""); `log` prints a line of the run's log.
   */
  constructor({ coordinators, workers, workerScript, coordinatorScript, childUrl, cluster, logDir, nodeTtlMs, leaseTtlMs, unsafe, log }) {
    this.#options = { workerScript, coordinatorScript, childUrl, cluster, logDir, nodeTtlMs, leaseTtlMs, unsafe, log };
    for (let i = 0; i < coordinators; i++)
      this.all.push({ kind: "coordinator", index: i, id: `coordinator-${i}`, offset: CLOCK_OFFSETS_MS[(i + 3) % CLOCK_OFFSETS_MS.length] });
    for (let i = 0; i < workers; i++)
      this.all.push({ kind: "worker", index: i, id: `worker-${i}`, offset: CLOCK_OFFSETS_MS[i % CLOCK_OFFSETS_MS.length] });
  }

  /** The slot of the `index`th coordinator or worker. */
  slot(kind, index) {
    return this.all.find((s) => s.kind === kind && s.index === index);
  }

  /** The coordinator slots or the worker slots. */
  ofKind(kind) {
    return this.all.filter((s) => s.kind === kind);
  }

  startAll() {
    for (const slot of this.all) this.start(slot);
  }

  /**
   * Starts the slot's next process. Each process a slot runs logs to a file of its own: a node id
   * reused by a new process is another owner.
   */
  start(slot) {
    const { workerScript, coordinatorScript, childUrl, cluster, logDir, nodeTtlMs, leaseTtlMs, unsafe, log } = this.#options;
    const script = slot.kind === "worker" ? workerScript : coordinatorScript;
    slot.run = (slot.run ?? 0) + 1;
    const argv =
      slot.kind === "worker"
        ? [
            childUrl,
            cluster,
            slot.id,
            String(nodeTtlMs),
            join(logDir, `${slot.id}.${slot.run}.log`),
            slot.index % 2 === 0 ? "helix" : "plain",
            unsafe,
          ]
        : [childUrl, cluster, slot.id, String(leaseTtlMs), "100", "100", "0"];
    const child = JsonChild.start(script, argv, { clockOffsetMs: slot.offset });
    this.processes.set(`${slot.id}.${slot.run}`, child);
    slot.child = child;
    slot.paused = false;
    slot.expectExit = false;
    slot.down = false;
    slot.restartPending = false;
    void child.exited.then((code) => {
      if (slot.child !== child) return;
      slot.down = true;
      if (!slot.expectExit || (slot.expectCode !== undefined && code !== slot.expectCode)) {
        this.unexpected.push({ id: slot.id, code, signal: child.process.signalCode, stderr: stderrTail(child, 5) });
        log(`UNEXPECTED exit of ${slot.id}: code ${code} ${child.stderr.trim().split("\n").slice(-1)[0] ?? ""}`);
      }
    });
  }

  /** Ends the slot's process with `signal`, and starts a new one `downMs` later. False if it is down already. */
  kill(slot, signal, downMs) {
    if (slot.down || slot.child === undefined) return false;
    slot.expectExit = true;
    // SIGTERM (SIGUSR2: saying it will be back; SIGUSR1: after a drain) makes a worker leave and exit 0 once it is running; one still
    // starting up (no "joined" yet: Node may not even have loaded the script) just dies of it, like a kill.
    const graceful = signal === "SIGTERM" || signal === "SIGUSR2" || signal === "SIGUSR1";
    slot.expectCode = graceful && slot.child.count("joined") > 0 ? 0 : undefined;
    // A pause (or a node-id reuse waiting on one) ends with the process: its timer must not act on it.
    if (slot.paused) this.#resume(slot.child);
    slot.paused = false;
    // Before its handler is installed, SIGUSR1 opens Node's inspector instead of ending the process:
    // a worker not yet joined is killed instead, as it would die of the other signals.
    slot.child.process.kill(signal === "SIGUSR1" && slot.expectCode === undefined ? "SIGKILL" : signal);
    slot.restartPending = true;
    this.#later(downMs, () => this.start(slot));
    return true;
  }

  /** Stops the slot's process (SIGSTOP) for `pauseMs`. False if it is down or paused already. */
  pause(slot, pauseMs) {
    if (slot.down || slot.paused) return false;
    slot.paused = true;
    const child = slot.child;
    this.#suspend(child);
    this.#later(pauseMs, () => {
      if (slot.child === child && slot.paused) {
        slot.paused = false;
        this.#resume(child);
      }
    });
    return true;
  }

  /**
   * A new process takes the slot's node id while the old one is paused past its TTL; the old one then
   * resumes and, a moment later, is told to leave (SIGTERM): it must touch nothing of the new one's.
   */
  reuse(slot, pauseMs, overlapMs) {
    if (slot.down || slot.paused) return false;
    const old = slot.child;
    slot.paused = true;
    this.#suspend(old);
    this.#later(pauseMs, () => {
      if (slot.child !== old || !slot.paused) return;
      slot.paused = false;
      // The old process leaves the slot's books: its exit is expected, and must be clean.
      slot.child = undefined;
      void old.exited.then((code) => {
        if (code !== 0)
          this.unexpected.push({ id: `${slot.id} (old process)`, code, signal: old.process.signalCode, stderr: stderrTail(old, 5) });
      });
      this.start(slot);
      this.#later(overlapMs, () => {
        this.#resume(old);
        this.#later(1000, () => old.process.kill("SIGTERM"));
      });
      this.orphans.push(old);
    });
    return true;
  }

  /**
   * The faults stop: timers of faults in progress are dropped, everything paused resumes, every slot
   * down starts again, and the old processes of reused node ids still running are told to leave.
   */
  endFaults() {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const slot of this.all) {
      if (slot.paused) {
        slot.paused = false;
        this.#resume(slot.child);
      }
      if (slot.down) {
        this.start(slot);
      } else if (slot.restartPending) {
        // Killed, its restart timer just dropped, and still exiting (a leave takes a moment): it
        // starts again once it has exited, as it would have.
        const child = slot.child;
        void child.exited.then(() => {
          if (slot.child === child) this.start(slot);
        });
      }
    }
    for (const old of this.orphans) {
      if (old.process.exitCode !== null || old.process.signalCode !== null) continue;
      this.#resume(old);
      old.process.kill("SIGTERM");
    }
  }

  /** Shuts every process down gracefully (each must exit 0), and waits for the old processes of reused node ids. */
  async shutdown() {
    const { log } = this.#options;
    await Promise.all(
      this.all.map(async (slot) => {
        slot.expectExit = true;
        slot.expectCode = 0;
        // Coordinators stop when their stdin closes, workers leave on SIGTERM.
        if (slot.kind === "coordinator") slot.child.process.stdin.end();
        else slot.child.process.kill("SIGTERM");
        const timer = setTimeout(() => {
          log(
            `${slot.id} did not exit within 15 s of being told to; last events: ${slot.child.events
              .slice(-4)
              .map((e) => JSON.stringify(e))
              .join(" ")}`,
          );
          slot.child.kill();
        }, 15_000);
        await slot.child.exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(this.orphans.map((old) => old.exited));
  }

  #later(ms, fn) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #suspend(child) {
    child.process.kill("SIGSTOP");
    const spans = this.stoppedSpans.get(child) ?? [];
    spans.push({ from: nowUs(), to: Infinity });
    this.stoppedSpans.set(child, spans);
  }

  #resume(child) {
    child.process.kill("SIGCONT");
    const last = this.stoppedSpans.get(child)?.at(-1);
    if (last !== undefined && last.to === Infinity) last.to = nowUs();
  }
}
