import { EventEmitter } from "node:events";
import { inspect } from "node:util";

// SafeEmitter's implementation, typed loosely: its `emit` cannot be declared as an override of the
// generic, typed one of `EventEmitter<T>`; the export below gives it that type back.
class SafelyEmitting extends EventEmitter {
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const listeners = this.rawListeners(event);
    // Nobody listens: Node's behaviour stands (it throws for an unheard "error"; Helix emits none).
    if (listeners.length === 0) return super.emit(event, ...args);
    for (const listener of listeners) {
      try {
        const result: unknown = Reflect.apply(listener, this, args);
        if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => reportListenerError(event, error));
      } catch (error) {
        reportListenerError(event, error);
      }
    }
    return true;
  }
}

/**
 * The base of Helix's event emitters (members, coordinators, leases, routing tables): `emit` calls
 * every listener even when one throws, and never lets a listener's exception, nor an async
 * listener's rejection, escape into the code that emitted.
 *
 * Why not Node's own behaviour: `EventEmitter.emit` throws a listener's exception synchronously,
 * skipping the listeners after it. Helix emits in the middle of its own steps (a heartbeat, a
 * round, a renewal timer); there the exception would cut the step short, and surface as an
 * unhandled rejection or an uncaught exception far from its cause.
 *
 * Why a process warning: a listener's exception is a bug of the application, so it must be seen,
 * but it is not a failure of Helix. It goes to `process.emitWarning`, as Node reports other misuse
 * of an emitter (MaxListenersExceededWarning): printed on stderr by default, with the listener's
 * stack, and observable with `process.on("warning")` (name `HelixListenerWarning`, code
 * `HELIX_LISTENER_THREW`, the stack as `detail`). It is not re-emitted on the object's own error
 * event: that would count an application bug as a failed round or heartbeat, and a throwing error
 * listener would need yet another channel.
 */
export const SafeEmitter = SafelyEmitting as {
  /** An emitter of the events `T` (event name to listener arguments) with Helix's `emit`. */
  new <T extends Record<keyof T, unknown[]>>(): EventEmitter<T>;
};

/** The code of the process warning that reports a listener's exception. */
const LISTENER_WARNING_CODE = "HELIX_LISTENER_THREW";

function reportListenerError(event: string | symbol, error: unknown): void {
  const { message, stack } = describe(error);
  // A string warning, not an Error: Node refuses an Error made in another realm (a vm context).
  process.emitWarning(`a listener of "${String(event)}" threw: ${message}`, {
    type: "HelixListenerWarning",
    code: LISTENER_WARNING_CODE,
    // Printed under the warning: where the listener threw, not where Helix emitted.
    detail: stack,
  });
}

/** The message and stack of anything thrown, without throwing (a thrown value may be any object). */
function describe(error: unknown): { message: string; stack: string | undefined } {
  try {
    if (typeof error !== "object" || error === null) return { message: String(error), stack: undefined };
    const { message, stack } = error as { message?: unknown; stack?: unknown };
    return { message: typeof message === "string" ? message : inspect(error), stack: typeof stack === "string" ? stack : undefined };
  } catch {
    return { message: "(a value that cannot be printed)", stack: undefined };
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null | undefined)?.then === "function";
