/**
 * The text of the generated `db.ts`: what every generated query module imports (the client it
 * takes, the readers of column values, slice expansion and `:copyfrom` rows).
 */
export const dbModule = `/**
 * What generated queries need from a connection: the \`query\` method of a mysql2/promise \`Pool\`,
 * \`PoolConnection\` or \`Connection\`, or of anything shaped like it (a test fake, a wrapper).
 */
export interface QueryClient {
  /** Sends one statement; resolves to mysql2's pair of the result (rows or a result header) and the fields. */
  query(options: QueryOptions): Promise<[unknown, unknown]>;
}

/** The options generated queries pass to {@link QueryClient.query}. */
export interface QueryOptions {
  /** The statement, with a \`?\` placeholder per value. */
  sql: string;
  /** The placeholders' values, in order. */
  values: unknown[];
  /** Rows as arrays of values in column order, not objects keyed by column name (two columns may share a name). */
  rowsAsArray?: boolean;
  /** How DATETIME values are read; a query's setting overrides the client's. */
  timezone?: string;
}

// A caller's own client may have any of mysql2's result flags (bigNumberStrings, dateStrings,
// jsonStrings, timezone); generated readers turn what they get into one shape, so that an answer
// never depends on how the client was made.

/** An integer column: a number, whether the client returned it as a number or as a string. */
export function numberValue(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

/** A DATETIME column in UTC: read as UTC by the query's timezone, or parsed from a \`dateStrings\` text. */
export function dateValue(value: unknown): Date {
  return value instanceof Date ? value : new Date(\`\${String(value).replace(" ", "T")}Z\`);
}

/** A JSON column as text, whether the client returned the text or parsed it. */
export function jsonText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What an \`:execresult\` query returns. */
export interface ExecResult {
  /** Rows inserted, updated (counting 2 for an upsert's update) or deleted. */
  affectedRows: number;
  /** The AUTO_INCREMENT id, or the value the statement passed to LAST_INSERT_ID(expr). */
  insertId: number;
}

/**
 * The SQL of a query with \`sqlc.slice\` parameters: each slice's marker becomes one placeholder per
 * element, or NULL for none (\`IN (NULL)\` matches no row, where \`IN ()\` does not parse).
 */
export function expandSlices(sql: string, lengths: Readonly<Record<string, number>>): string {
  return sql.replace(/\\/\\*SLICE:(\\w+)\\*\\/\\?/g, (_, name: string) => {
    const length = lengths[name] ?? 0;
    return length === 0 ? "NULL" : Array<string>(length).fill("?").join(", ");
  });
}

/** The SQL of a \`:copyfrom\` query for \`count\` rows: its one-row VALUES tuple repeated. */
export function repeatRows(query: { readonly head: string; readonly row: string; readonly tail: string }, count: number): string {
  return query.head + Array<string>(count).fill(query.row).join(", ") + query.tail;
}

/** Reads the result header mysql2 returns for a statement that returns no rows. */
export function execResult(result: unknown): ExecResult {
  const header = result as { affectedRows?: unknown; insertId?: unknown };
  if (typeof header.affectedRows !== "number") {
    throw new TypeError("expected a result header with affectedRows; did the statement return rows?");
  }
  return { affectedRows: header.affectedRows, insertId: Number(header.insertId ?? 0) };
}
`;
