import type { ServiceConfig } from "../config";

/** Where the CLI writes; tests pass their own. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** The process's stdout and stderr, one line a call. */
export const consoleOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** How a long-running command waits for the signals that stop it. */
export interface Signals {
  /** Resolves on the first SIGTERM or SIGINT; calls `force` on the second. */
  wait(force: () => void): Promise<string>;
}

/** The process's SIGTERM and SIGINT. */
export const processSignals: Signals = {
  wait: (force) =>
    new Promise((resolve) => {
      let received = 0;
      const onSignal = (signal: string): void => {
        if (++received === 1) return resolve(signal);
        force();
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }),
};

/** Exit code of a process stopped by a second signal before its graceful shutdown finished. */
export const FORCED_EXIT_CODE = 130;

/** What every command is registered with: where it writes, how it waits, where its settings come from. */
export interface CommandContext {
  readonly output: Output;
  readonly signals: Signals;
  /** The environment `main` was given; the configuration is read from it. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Reads the configuration (the environment over the `--config` file). Commands call it in their
   * action, not when they are registered: `--config` is known only once the command line is parsed,
   * and `--help` must work with a broken configuration.
   * @throws `ConfigError` naming the variable and where it came from.
   */
  config(): ServiceConfig;
}
