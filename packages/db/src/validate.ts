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
    const got = typeof value === "number" ? String(value) : describeValue(value);
    throw new InvalidArgumentError(argument, `must be ${kind}${unit} from ${min} to ${max} (got ${got})`);
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
  // Counted in code points only when the UTF-16 length is over the limit (it is never below the
  // code point count): names are checked on hot paths such as a router's ownerOf().
  const length = value.length <= maxLength ? value.length : [...value].length;
  if (length === 0 || length > maxLength) {
    throw new InvalidArgumentError(argument, `must be 1 to ${maxLength} characters (got ${length})`);
  }
  if (value.trim() !== value) throw new InvalidArgumentError(argument, "must not start or end with white space");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidArgumentError(argument, "must not contain control characters");
  return value;
}

/**
 * An optional parameter: `fallback` when it was left out (`undefined`); otherwise the value as it
 * is, for a check to judge. `null` is not "left out": a check refuses it, so that a config value
 * that went missing on the way (a JSON `null`) is reported, not quietly replaced by the default.
 */
export const orDefault = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

/**
 * Checks an options object: left out (`undefined`) means `{}`; anything else must be a plain object
 * (not null, not an array). @throws {@link InvalidArgumentError} naming `argument`.
 */
export function checkOptions<T extends object>(argument: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, `must be an object of options (got ${describeValue(value)})`);
  }
  return value;
}

/** Checks a true/false option; left out, `fallback`. @throws {@link InvalidArgumentError} naming `argument`. */
export function checkBoolean(argument: string, value: unknown, fallback: boolean): boolean {
  const given = orDefault(value, fallback);
  if (typeof given !== "boolean") throw new InvalidArgumentError(argument, `must be true or false (got ${describeValue(given)})`);
  return given;
}

/**
 * Checks a database client the caller passes (a pool, a connection): an object with a `query`
 * method. @throws {@link InvalidArgumentError} naming `argument`.
 */
export function checkClient<T>(argument: string, value: T): T {
  if (typeof value !== "object" || value === null || typeof (value as { query?: unknown }).query !== "function") {
    throw new InvalidArgumentError(argument, `must be a mysql2 pool or connection (got ${describeValue(value)})`);
  }
  return value;
}

/** A value as an error message names it: its kind, never its content (which may be long or secret). */
function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
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
