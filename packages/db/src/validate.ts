import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

import { InvalidArgumentError } from "./errors";

/**
 * Checks that `value` is an integer from `min` to `max`; `unit` ends the noun in the message
 * (" number of milliseconds"). @throws {@link InvalidArgumentError} naming `argument`.
 */
export function checkInteger(argument: string, value: unknown, min: number, max: number, unit = ""): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const kind = min === 1 ? "a positive integer" : min === 0 ? "a non-negative integer" : "an integer";
    throw new InvalidArgumentError(argument, `must be ${kind}${unit} from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

/**
 * Checks a key or name: a string of 1 to `maxLength` characters without control characters or
 * leading/trailing white space (MySQL compares VARCHARs ignoring trailing spaces, so "a" and "a "
 * would be one key). @throws {@link InvalidArgumentError} naming `argument`.
 */
export function checkText(argument: string, value: unknown, maxLength: number): string {
  if (typeof value !== "string") throw new InvalidArgumentError(argument, `must be a string (got ${typeof value})`);
  const length = [...value].length;
  if (length === 0 || length > maxLength) {
    throw new InvalidArgumentError(argument, `must be 1 to ${maxLength} characters (got ${length})`);
  }
  if (value.trim() !== value) throw new InvalidArgumentError(argument, "must not start or end with white space");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError(argument, "must not contain control characters");
  return value;
}

/** Checks an integer number of milliseconds from `min` to `max`. @throws {@link InvalidArgumentError} naming `argument`. */
export const checkMs = (argument: string, value: unknown, min: number, max: number): number =>
  checkInteger(argument, value, min, max, " number of milliseconds");

/**
 * The id a process goes by when the caller gives none (a locker's owner, a member's node id, a
 * coordinator's id): `host:pid:random`, readable in status output and distinct for two objects of
 * one process.
 */
export function defaultProcessId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** The process a {@link defaultProcessId} names: its host and process id. */
export interface ProcessOfId {
  /** The host name the id was made on. */
  readonly host: string;
  /** The process id on that host. */
  readonly pid: number;
}

/**
 * The host and process of an id made by {@link defaultProcessId}; null for an id its owner chose.
 * Two default ids with the same host and pid name objects of one process.
 */
export function processOfId(id: string): ProcessOfId | null {
  const match = /^(.+):(\d+):[0-9a-f]{6}$/.exec(id);
  return match === null ? null : { host: match[1]!, pid: Number(match[2]) };
}
