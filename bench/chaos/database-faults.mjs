// The chaos harness's faults of the database (see ../chaos.mjs): connections killed, the local
// MariaDB restarted, and slow-database spells (latency added in the harness's TCP proxy, CPU hogs
// beside the processes), with what the processes went through in those spells.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { isAbsolute, join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

import { nowUs } from "./slots.mjs";

const MARIADB = "/usr/sbin/mariadbd";

/**
 * The pid file of the server under test when a restart may stop and start it, else undefined.
 * Restarts stop and start this machine's MariaDB, so they run only when that is the server under
 * test (a TiDB on another port of this host must not cost MariaDB its process; TiDB here keeps its
 * data in memory, so it cannot be restarted under a run).
 */
export async function restartablePidFile({ admin, server, engine }) {
  const localMariaDb = engine === "mariadb" && ["127.0.0.1", "localhost"].includes(server.hostname) && existsSync(MARIADB);
  if (!localMariaDb) return undefined;
  // The server names its own process in its pid file: another mariadbd may run on this machine (on
  // another port), and must be neither stopped nor taken for this one when it starts again.
  const [[{ pidFile, datadir }]] = await admin.query("SELECT @@pid_file AS pidFile, @@datadir AS datadir");
  return isAbsolute(pidFile) ? pidFile : join(datadir, pidFile);
}

export class DatabaseFaults {
  /**
   * The slow spells: `{ from, to, latencyMs, spellMs, loop }` (`from`, `to`: µs on the processes'
   * clock; `loop`: the delay of the harness's event loop in the spell).
   */
  spells = [];
  /** The restart in progress, if any (the faults stop only once it is over). */
  #restarting = Promise.resolve();
  #endSpell = () => undefined;
  /** The CPU hogs of the slow spell in progress. */
  #hogs = new Set();
  #options;

  /**
   * `admin`: the harness's pool (it does not go through the proxy); `database`: the run's database,
   * whose connections are killed; `server`: the server's URL; `pidFile`: see restartablePidFile;
   * `proxy`: the TCP proxy every child connects through; `log` prints a line of the run's log.
   */
  constructor({ admin, database, server, pidFile, proxy, log }) {
    this.#options = { admin, database, server, pidFile, proxy, log };
    process.on("exit", () => {
      for (const hog of this.#hogs) hog.kill("SIGKILL");
    });
  }

  /** Kills each connection to the run's database for which `pick()` is below `fraction`. False if none was. */
  async killConnections(fraction, pick) {
    const { admin, database } = this.#options;
    const [rows] = await admin.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()", [database]);
    const victims = rows.filter(() => pick() < fraction);
    for (const row of victims) await admin.query("KILL ?", [row.ID]).catch(() => undefined);
    return victims.length > 0;
  }

  /** Stops the server, waits `downMs` once it is gone, starts it again and waits until it answers. */
  async restart(downMs) {
    this.#restarting = this.#restart(downMs);
    await this.#restarting;
    return true;
  }

  /**
   * The slow database: for the spell, every chunk a child sends waits `latencyMs` in the proxy, and
   * two processes spin beside them on the machine's cores. The spell ends by its own timer, or when
   * the faults stop.
   */
  slow(spellMs, latencyMs) {
    const { proxy, log } = this.#options;
    const spell = { from: nowUs(), to: undefined, latencyMs, spellMs, loop: monitorEventLoopDelay({ resolution: 10 }) };
    this.spells.push(spell);
    // The proxy runs on this process's event loop: its delay adds to the latency set.
    spell.loop.enable();
    proxy.setLatency(latencyMs);
    const spinning = [0, 1].map(() => spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
    for (const hog of spinning) {
      this.#hogs.add(hog);
      hog.once("exit", () => this.#hogs.delete(hog));
    }
    const timer = setTimeout(() => this.#endSpell(), spellMs);
    this.#endSpell = () => {
      this.#endSpell = () => undefined;
      clearTimeout(timer);
      proxy.setLatency(0);
      for (const hog of spinning) hog.kill("SIGKILL");
      spell.loop.disable();
      spell.to = nowUs();
      log(`slow-database ends after ${Math.round((spell.to - spell.from) / 1000)} ms`);
    };
    return true;
  }

  /** The faults stop: once a restart in progress is over, the database is fast again. */
  async endFaults() {
    await this.#restarting;
    this.#endSpell();
  }

  /**
   * Who fenced itself in a slow spell (or within `ttlUs` after it, while what was sent in it is
   * answered), from the events of `processes` (by name, as Slots.processes). A process that was
   * stopped (paused, per `stoppedSpans`) in the TTL before its fence was fenced by the pause, and is
   * counted apart (`pausedFences`); so for the other events (`slowEvents`). Information only: safety
   * is the checks of checks.mjs.
   */
  fencesInSpells(processes, stoppedSpans, ttlUs) {
    const slowFences = [];
    const pausedFences = [];
    const slowEvents = { heartbeatFailed: 0, reregistered: 0, leadershipLost: 0 };
    for (const [name, child] of processes) {
      for (const e of child.events) {
        const spell = this.spells.find((s) => e.t >= s.from && e.t <= s.to + ttlUs);
        if (spell === undefined) continue;
        const paused = (stoppedSpans.get(child) ?? []).some((span) => span.from <= e.t && span.to >= e.t - ttlUs);
        if (e.event === "fenced") {
          (paused ? pausedFences : slowFences).push({
            name,
            spell: this.spells.indexOf(spell),
            afterMs: Math.round((e.t - spell.from) / 1000),
          });
        }
        if (paused) continue;
        if (name.startsWith("worker-") && e.event === "heartbeat-failed") slowEvents.heartbeatFailed++;
        if (name.startsWith("worker-") && e.event === "rejoined" && e.reregistered === true) slowEvents.reregistered++;
        if (name.startsWith("coordinator-") && e.event === "lost") slowEvents.leadershipLost++;
      }
    }
    return { slowFences, pausedFences, slowEvents };
  }

  async #restart(downMs) {
    const { pidFile } = this.#options;
    const pid = readFileSync(pidFile, "utf8").trim();
    process.kill(Number(pid), "SIGTERM");
    while (await this.#reachable()) await sleep(50);
    while (existsSync(`/proc/${pid}`)) await sleep(50);
    await sleep(downMs);
    execFileSync("start-stop-daemon", ["--start", "--oknodo", "--background", "--pidfile", pidFile, "--exec", MARIADB]);
    while (!(await this.#reachable())) await sleep(50);
  }

  /** Whether the server accepts TCP connections. */
  #reachable() {
    const { server } = this.#options;
    return new Promise((resolve) => {
      const socket = connect(Number(server.port || 3306), server.hostname);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
  }
}
