import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { runInThisContext } from "node:vm";

import { until } from "./database";

/** Path of a script to preload with `--require` that shifts Date by HELIX_FAKE_CLOCK_OFFSET_MS. */
export const FAKE_CLOCK = join(__dirname, "..", "fake-clock.cjs");

/** A child process whose stdout carries one JSON object per line. */
export class JsonChild {
  readonly events: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  stderr = "";

  constructor(readonly process: import("node:child_process").ChildProcessWithoutNullStreams) {
    createInterface({ input: process.stdout }).on("line", (line) => this.events.push(JSON.parse(line) as Record<string, unknown>));
    process.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => process.on("exit", resolve));
  }

  /** Starts `node [--require FAKE_CLOCK] script ...args`, with the clock offset when given. */
  static start(script: string, args: string[], options: { clockOffsetMs?: number; env?: NodeJS.ProcessEnv } = {}): JsonChild {
    const preload = options.clockOffsetMs === undefined ? [] : ["--require", FAKE_CLOCK];
    const env = { ...process.env, ...options.env, HELIX_FAKE_CLOCK_OFFSET_MS: String(options.clockOffsetMs ?? 0) };
    return new JsonChild(spawn(process.execPath, [...preload, script, ...args], { env }));
  }

  /** How many events named `name` (the `event` field) arrived. */
  count(name: string): number {
    return this.events.filter((e) => e.event === name).length;
  }

  /** The first event named `name`, waiting for it. */
  async event(name: string): Promise<Record<string, unknown>> {
    await until(() => this.count(name) > 0, 15_000).catch(() => {
      throw new Error(`no "${name}" event; stderr: ${this.stderr}`);
    });
    return this.events.find((e) => e.event === name)!;
  }

  /** Kills the process if it still runs (resuming it first, in case it is stopped). */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGCONT");
      this.process.kill("SIGKILL");
    }
  }
}

/**
 * What escapes a test's code to the process: unhandled rejections, uncaught exceptions and
 * warnings. jest gives a test file a copy of `process` that never emits these, so the trap listens
 * on the real one. `start()` in beforeAll, `stop()` in afterAll.
 */
export class ProcessTrap {
  /** Unhandled rejections and uncaught exceptions seen. */
  readonly escaped: unknown[] = [];
  /** Warnings emitted, such as a listener's exception reported by Helix. */
  readonly warnings: Error[] = [];
  readonly #process = runInThisContext("process") as NodeJS.Process;
  readonly #escape = (reason: unknown): void => void this.escaped.push(reason);
  readonly #warn = (warning: Error): void => void this.warnings.push(warning);

  start(): void {
    this.#process.on("unhandledRejection", this.#escape).on("uncaughtException", this.#escape).on("warning", this.#warn);
  }

  stop(): void {
    this.#process.off("unhandledRejection", this.#escape).off("uncaughtException", this.#escape).off("warning", this.#warn);
  }

  /** Warnings with this code (`HELIX_LISTENER_THREW` for a listener's exception). */
  warningsWithCode(code: string): Error[] {
    return this.warnings.filter((w) => (w as { code?: string }).code === code);
  }
}
