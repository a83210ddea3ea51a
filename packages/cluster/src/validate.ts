import { InvalidArgumentError, MAX_NAME_LENGTH } from "@helix/db";

/** Most partitions a task list may have (helix_numbers holds 0..9999). */
export const MAX_PARTITIONS = 10_000;

/** Largest metadata object, as JSON, in bytes. */
export const MAX_METADATA_BYTES = 65_536;

/**
 * Checks a cluster, domain, task-list or node name: a string of 1 to 128 characters without
 * control characters or leading/trailing white space (MySQL would ignore trailing spaces).
 */
export function checkName(argument: string, value: unknown): string {
  if (typeof value !== "string") throw new InvalidArgumentError(argument, `must be a string (got ${typeof value})`);
  const length = [...value].length;
  if (length === 0 || length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(argument, `must be 1 to ${MAX_NAME_LENGTH} characters (got ${length})`);
  }
  if (value.trim() !== value) throw new InvalidArgumentError(argument, "must not start or end with white space");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError(argument, "must not contain control characters");
  return value;
}

/** Checks a partition count: an integer from 1 to {@link MAX_PARTITIONS}. */
export function checkPartitions(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_PARTITIONS) {
    throw new InvalidArgumentError("partitions", `must be an integer from 1 to ${MAX_PARTITIONS} (got ${String(value)})`);
  }
  return value;
}

/** Checks metadata (a plain JSON object of at most 64 KiB) and returns it as JSON text. */
export function metadataJson(value: unknown): string {
  if (value === undefined) return "{}";
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError("metadata", "must be a plain object");
  }
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError("metadata", "must be JSON-serialisable", { cause: error });
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw new InvalidArgumentError("metadata", `must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
  }
  return json;
}

/** Checks an integer number of milliseconds within [min, max]. */
export function checkMs(argument: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer number of milliseconds from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

/** Checks a partition number against a count. */
export function checkPartition(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= MAX_PARTITIONS) {
    throw new InvalidArgumentError("partition", `must be an integer from 0 to ${MAX_PARTITIONS - 1} (got ${String(value)})`);
  }
  return value;
}
