import { checkInteger, checkText, InvalidArgumentError, MAX_NAME_LENGTH } from "@helix/db/internal";

/** Most partitions a task list may have (helix_numbers holds 0..9999). */
export const MAX_PARTITIONS = 10_000;

/** Largest member weight. */
export const MAX_WEIGHT = 1000;

/** Largest metadata object, as JSON, in bytes. */
export const MAX_METADATA_BYTES = 65_536;

/** Checks a cluster, domain, task-list or node name: 1 to 128 characters, no control characters or edge spaces. */
export const checkName = (argument: string, value: unknown): string => checkText(argument, value, MAX_NAME_LENGTH);

/** Checks a partition count: an integer from 1 to {@link MAX_PARTITIONS}. */
export const checkPartitions = (value: unknown): number => checkInteger("partitions", value, 1, MAX_PARTITIONS);

/** Checks a partition number: an integer from 0 to {@link MAX_PARTITIONS} - 1. */
export const checkPartition = (value: unknown): number => checkInteger("partition", value, 0, MAX_PARTITIONS - 1);

/**
 * A metadata value as JSON keeps it, or a refusal: JSON would turn NaN and Infinity into null and
 * drop undefined, functions and symbols, so the metadata read back would not be the one given.
 */
function jsonValue(key: string, value: unknown): unknown {
  const kind = typeof value;
  if ((kind === "number" && !Number.isFinite(value)) || kind === "undefined" || kind === "function" || kind === "symbol") {
    const where = key === "" ? "" : ` (at "${key.slice(0, 40)}")`;
    throw new InvalidArgumentError(
      "metadata",
      `must hold only JSON values: strings, finite numbers, booleans, null, arrays and objects${where}`,
    );
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
    json = JSON.stringify(value, jsonValue);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError("metadata", "must be JSON-serialisable", { cause: error });
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) {
    throw new InvalidArgumentError("metadata", `must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
  }
  return json;
}
