import type { Column } from "./request";

/**
 * MySQL type names as sqlc reports them, mapped to the TypeScript type generated readers return
 * whatever the client's result flags (the readers of db.ts normalise numbers, dates and JSON).
 *
 * - Integers, BIGINT included, are `number`: Helix's BIGINT columns are counters (epochs,
 *   generations, versions) that grow by one per change and stay far below 2^53; mysql2 returns an
 *   exact `number` for them, which users can compare and serialise without BigInt.
 * - DATETIME / TIMESTAMP / DATE are `Date` in UTC. A JS Date keeps milliseconds, so the microseconds
 *   of DATETIME(6) are dropped on read; every comparison of times happens in SQL, where they are kept.
 * - JSON is `string`: MariaDB stores JSON as LONGTEXT and MySQL as a native type, so mysql2 would
 *   return a string on one and an object on the other; `jsonStrings` makes both a string.
 * - DECIMAL is `string` (exact); binary types are `Buffer`.
 */
const typeByName: Readonly<Record<string, string>> = {
  tinyint: "number",
  smallint: "number",
  mediumint: "number",
  int: "number",
  integer: "number",
  bigint: "number",
  "bigint signed": "number",
  "bigint unsigned": "number",
  year: "number",
  float: "number",
  double: "number",
  real: "number",
  decimal: "string",
  char: "string",
  varchar: "string",
  // What sqlc names the type of `CAST(… AS CHAR)`.
  var_string: "string",
  tinytext: "string",
  text: "string",
  mediumtext: "string",
  longtext: "string",
  enum: "string",
  set: "string",
  time: "string",
  json: "string",
  date: "Date",
  datetime: "Date",
  timestamp: "Date",
  binary: "Buffer",
  varbinary: "Buffer",
  tinyblob: "Buffer",
  blob: "Buffer",
  mediumblob: "Buffer",
  longblob: "Buffer",
  bit: "Buffer",
};

/** The TypeScript type of a column or parameter, `| null` when it may be NULL. */
export function tsType(column: Column, overrides: Readonly<Record<string, string>>, where: string): string {
  const sqlType = (column.type?.name ?? "").toLowerCase();
  const base = overrides[column.name] ?? typeByName[sqlType];
  if (base === undefined) {
    throw new Error(
      `${where}: sqlc reports type "${sqlType || "unknown"}" for "${column.name}", which has no TypeScript ` +
        `mapping. Give it one in the plugin option "param_types" (for example {"${column.name}": "number"}).`,
    );
  }
  if (column.is_array) {
    throw new Error(`${where}: "${column.name}" is an array, which MySQL has no type for; use sqlc.slice(${column.name}).`);
  }
  return column.not_null || overrides[column.name] !== undefined ? base : `${base} | null`;
}
