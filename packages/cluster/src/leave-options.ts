import { checkMs, checkOptions, orDefault } from "@helix/db/internal";

/** The longest a member may say it will be away for: a day. */
const DAY_MS = 86_400_000;

/** How a member leaves (see `Member.leave`). */
export interface LeaveOptions {
  /**
   * The member will be back (a rolling restart, a redeploy with the same node id): its partitions
   * stay reserved for its node id this long after it left, and the node id's next process takes
   * them back, at new generations, without any other member owning them in between. This process's
   * fences fail from the leave on. If no process of the node id joins in time they move as after a
   * crash. 0 (the default): they go to the other members at once. Whole milliseconds, up to a day.
   */
  readonly returningWithinMs?: number;
}

/** {@link LeaveOptions} with their defaults. */
export interface ResolvedLeaveOptions {
  /** See {@link LeaveOptions.returningWithinMs}; 0 when not given. */
  readonly returningWithinMs: number;
}

/**
 * Applies the defaults of {@link LeaveOptions} and checks them, as `Member.leave` does before it
 * stops anything (for a caller that takes them from its own configuration and wants to refuse bad
 * ones up front).
 * @throws `InvalidArgumentError` naming the option.
 */
export function resolveLeaveOptions(options: LeaveOptions | undefined): ResolvedLeaveOptions {
  const given = checkOptions("options", options === undefined ? {} : options);
  return { returningWithinMs: checkMs("returningWithinMs", orDefault(given.returningWithinMs, 0), 0, DAY_MS) };
}

/** How a member drains (see `Member.drain`). */
export interface DrainOptions {
  /**
   * How long to wait for the coordinator to hand every partition to the others before leaving all
   * the same (the leave hands the rest back at once). Whole milliseconds, 1 to a day. @default 60000
   */
  readonly timeoutMs?: number;
}

/** {@link DrainOptions} with their defaults. */
export interface ResolvedDrainOptions {
  /** See {@link DrainOptions.timeoutMs}. */
  readonly timeoutMs: number;
}

/**
 * Applies the defaults of {@link DrainOptions} and checks them, as `Member.drain` does first.
 * @throws `InvalidArgumentError` naming the option.
 */
export function resolveDrainOptions(options: DrainOptions | undefined): ResolvedDrainOptions {
  const given = checkOptions("options", options === undefined ? {} : options);
  return { timeoutMs: checkMs("timeoutMs", orDefault(given.timeoutMs, 60_000), 1, DAY_MS) };
}
