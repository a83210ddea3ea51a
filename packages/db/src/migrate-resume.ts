// Recognizing a migration statement that an interrupted run applied but did not record.
//
// MySQL, MariaDB and TiDB commit every DDL statement on its own, so no transaction can tie a
// statement to the row that records it: a process that dies (or loses its connection) between the
// two leaves the statement applied and unrecorded, and running it again fails ("Duplicate column
// name", "Table already exists"...). Flyway and Liquibase stop there and ask for a manual repair,
// golang-migrate marks the version "dirty". migrate() can do better because statements are
// applied one at a time, in order, by the holder of the lease, and each is sent only after the one
// before it was recorded: only the first statement after the recorded progress can be in that
// state. For that statement alone, an error that says "this is already there" is checked against
// information_schema (or, for an INSERT, against the rows), and counted as applied only when the
// schema holds what the statement makes.

import { givesConnections } from "./policy";
import { Parser, Unrecognized } from "./statement-parser";
import type { QueryClient } from "./generated/db";
import type { ConnectionSource, TransactionConnection } from "./types";

/** One check of the schema: an object that must be there (or gone) once the statement has run. */
type Check =
  | {
      readonly on: "table";
      readonly table: string;
      readonly present: boolean;
      /** All of its columns, when the statement lists them (CREATE TABLE). */
      readonly columns?: readonly string[];
      /** Keys it must have (the named ones a CREATE TABLE makes). */
      readonly indexes?: readonly string[];
    }
  | { readonly on: "column"; readonly table: string; readonly column: string; readonly present: boolean }
  | { readonly on: "index"; readonly table: string; readonly index: string; readonly present: boolean };

/** How to tell that a statement has already been applied. */
export interface AppliedTest {
  /** Driver errnos that mean "this statement's effect is already there"; any other is a failure. */
  readonly errnos: ReadonlySet<number>;
  /** What information_schema must show. */
  readonly checks: readonly Check[];
  /** For an INSERT: the same statement as INSERT IGNORE, run and rolled back to see that it adds no row. */
  readonly dryRun?: string;
}

// Errnos (the same on MySQL, MariaDB and TiDB): 1050 table exists, 1051 unknown table (DROP),
// 1054 unknown column, 1060 duplicate column, 1061 duplicate key name, 1062 duplicate entry,
// 1068 multiple primary keys, 1091 can't drop (no such column or key), 1146 no such table,
// 1176 no such key (RENAME INDEX).

/** How to recognize `statement` as applied, or undefined when it is not a statement this module knows. */
export function appliedTest(statement: string): AppliedTest | undefined {
  try {
    const p = Parser.of(statement);
    const test = parseStatement(p, statement);
    return test !== undefined && p.done() ? test : undefined;
  } catch (error) {
    if (error instanceof Unrecognized) return undefined;
    throw error;
  }
}

function parseStatement(p: Parser, statement: string): AppliedTest | undefined {
  if (p.accept("CREATE")) {
    if (p.accept("TABLE")) return createTable(p);
    p.accept("UNIQUE", "FULLTEXT", "SPATIAL");
    p.expect("INDEX");
    const index = p.name();
    p.expect("ON");
    const table = p.name();
    p.skipRest(); // the key's columns and options
    return test([1061], indexCheck(table, index, true));
  }
  if (p.accept("ALTER")) return alterTable(p);
  if (p.accept("RENAME")) {
    p.expect("TABLE");
    const checks: Check[] = [];
    do {
      const from = p.name();
      p.expect("TO");
      checks.push({ on: "table", table: from, present: false }, { on: "table", table: p.name(), present: true });
    } while (p.accept(","));
    return test([1146, 1050], ...checks);
  }
  if (p.accept("DROP")) {
    if (p.accept("INDEX")) {
      const index = p.name();
      p.expect("ON");
      return test([1091], indexCheck(p.name(), index, false));
    }
    p.expect("TABLE");
    const checks: Check[] = [];
    do checks.push({ on: "table", table: p.name(), present: false });
    while (p.accept(","));
    return test([1051], ...checks);
  }
  if (p.accept("INSERT")) {
    // INSERT IGNORE and the priority modifiers never fail with a duplicate entry.
    if (p.accept("IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY") !== undefined) return undefined;
    p.accept("INTO");
    p.name();
    p.skipRest();
    const dryRun = statement.replace(/^(\s*)INSERT\b/i, "$1INSERT IGNORE");
    return dryRun === statement ? undefined : { errnos: new Set([1062]), checks: [], dryRun };
  }
  return undefined;
}

function test(errnos: number[], ...checks: Check[]): AppliedTest {
  return { errnos: new Set(errnos), checks };
}

/** Words that start a clause of ALTER TABLE ... ADD other than a column or a key this module checks. */
const notAColumn = ["CONSTRAINT", "FOREIGN", "CHECK", "PARTITION", "PERIOD", "SYSTEM", "IF"];

function createTable(p: Parser): AppliedTest {
  if (p.accept("IF")) {
    p.expect("NOT");
    p.expect("EXISTS");
  }
  const table = p.name();
  if (!p.accept("(")) {
    p.skipRest(); // CREATE TABLE ... LIKE / AS SELECT: the table's shape is not in the statement
    return test([1050], { on: "table", table, present: true });
  }
  const columns: string[] = [];
  const indexes: string[] = [];
  for (const element of p.list()) {
    const first = element.accept("PRIMARY", "KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL", "CONSTRAINT", "FOREIGN", "CHECK");
    if (first === undefined) columns.push(element.name());
    else if (first === "PRIMARY") indexes.push("PRIMARY");
    else if (first !== "CONSTRAINT" && first !== "FOREIGN" && first !== "CHECK") {
      element.accept("KEY", "INDEX");
      if (!element.at("(")) indexes.push(element.name()); // an unnamed key gets its name from the server
    }
  }
  p.skipRest(); // table options
  return test([1050], { on: "table", table, present: true, columns, indexes });
}

function alterTable(p: Parser): AppliedTest {
  p.expect("TABLE");
  const table = p.name();
  const errnos: number[] = [];
  const checks: Check[] = [];
  const clauses = p.list(false);
  for (const clause of clauses) {
    const verb = clause.expect("ADD", "DROP", "RENAME", "CHANGE", "ALGORITHM", "LOCK");
    if (verb === "ALGORITHM" || verb === "LOCK") {
      clause.skipRest(); // how the server applies the change, not a change
    } else if (verb === "RENAME" && clause.accept("COLUMN")) {
      const from = clause.name();
      clause.expect("TO");
      errnos.push(1054, 1060);
      checks.push(columnCheck(table, from, false), columnCheck(table, clause.name(), true));
    } else if (verb === "RENAME" && clause.accept("INDEX", "KEY")) {
      const from = clause.name();
      clause.expect("TO");
      errnos.push(1176, 1061);
      checks.push(indexCheck(table, from, false), indexCheck(table, clause.name(), true));
    } else if (verb === "RENAME") {
      // Other clauses would name the table by its old name: a rename is recognized only alone.
      if (clauses.length !== 1) throw new Unrecognized();
      clause.accept("TO", "AS");
      errnos.push(1146, 1050);
      checks.push({ on: "table", table, present: false }, { on: "table", table: clause.name(), present: true });
    } else if (verb === "CHANGE") {
      clause.accept("COLUMN");
      const from = clause.name();
      const to = clause.name();
      clause.skipRest();
      if (from.toLowerCase() === to.toLowerCase()) throw new Unrecognized(); // a MODIFY: it runs again without error
      errnos.push(1054, 1060);
      checks.push(columnCheck(table, from, false), columnCheck(table, to, true));
    } else if (verb === "ADD") {
      const kind = clause.accept("COLUMN", "PRIMARY", "KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL");
      if (kind === "PRIMARY") {
        clause.expect("KEY");
        errnos.push(1068);
        checks.push(indexCheck(table, "PRIMARY", true));
      } else if (kind === undefined || kind === "COLUMN") {
        if (notAColumn.some((word) => clause.at(word))) throw new Unrecognized();
        errnos.push(1060);
        checks.push(columnCheck(table, clause.name(), true));
      } else {
        if (kind !== "KEY" && kind !== "INDEX") clause.accept("KEY", "INDEX");
        if (clause.at("IF") || clause.at("(")) throw new Unrecognized(); // never fails / named by the server
        errnos.push(1061);
        checks.push(indexCheck(table, clause.name(), true));
      }
      clause.skipRest(); // the definition
    } else {
      const kind = clause.accept("COLUMN", "KEY", "INDEX");
      errnos.push(1091);
      const name = clause.name();
      checks.push(kind === "KEY" || kind === "INDEX" ? indexCheck(table, name, false) : columnCheck(table, name, false));
    }
    if (!clause.done()) throw new Unrecognized();
  }
  if (checks.length === 0) throw new Unrecognized();
  return { errnos: new Set(errnos), checks };
}

const columnCheck = (table: string, column: string, present: boolean): Check => ({ on: "column", table, column, present });
const indexCheck = (table: string, index: string, present: boolean): Check => ({ on: "index", table, index, present });

/**
 * A connection of the client's own, for a transaction; undefined when it has none to give (the
 * caller passed a single connection, whose statements migrate() cannot group safely).
 */
export async function ownConnection(client: ConnectionSource): Promise<TransactionConnection | undefined> {
  return givesConnections(client) ? client.getConnection() : undefined;
}

/**
 * Whether the schema shows `test`'s effect: undefined when it does, otherwise what differs.
 * An INSERT is run as INSERT IGNORE in a transaction that is rolled back: it must add no row. On a
 * client without connections of its own the duplicate entry alone is taken as the sign (an INSERT
 * applies all its rows or none, and its table is one the migrations made).
 */
export async function mismatch(client: ConnectionSource, test: AppliedTest): Promise<string | undefined> {
  const shapes = new Map<string, Promise<TableShape>>();
  for (const check of test.checks) {
    const key = check.table.toLowerCase();
    if (!shapes.has(key)) shapes.set(key, tableShape(client, check.table));
    const problem = checkProblem(check, await shapes.get(key)!);
    if (problem !== undefined) return problem;
  }
  if (test.dryRun === undefined) return undefined;
  const conn = await ownConnection(client);
  if (conn === undefined) return undefined;
  try {
    await conn.beginTransaction();
    const [result] = await conn.query({ sql: test.dryRun, values: [] });
    const added = (result as { affectedRows?: unknown }).affectedRows;
    if (added === 0) return undefined;
    return `${String(added)} of the rows it inserts are not there (an INSERT applies all its rows or none, so it was never applied)`;
  } finally {
    await conn.rollback().catch(() => undefined);
    conn.release();
  }
}

interface TableShape {
  readonly exists: boolean;
  readonly columns: ReadonlySet<string>;
  readonly indexes: ReadonlySet<string>;
}

async function tableShape(client: QueryClient, table: string): Promise<TableShape> {
  const names = async (sql: string): Promise<Set<string>> => {
    const [rows] = await client.query({ sql, values: [table], rowsAsArray: true });
    return new Set((rows as unknown[][]).map((row) => String(row[0]).toLowerCase()));
  };
  const columns = await names("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?");
  const indexes = await names(
    "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?",
  );
  // Every table has a column, so no columns means no table.
  return { exists: columns.size > 0, columns, indexes };
}

function checkProblem(check: Check, table: TableShape): string | undefined {
  if (check.on === "table") {
    if (table.exists !== check.present) return `table ${check.table} ${check.present ? "does not exist" : "still exists"}`;
    if (check.columns !== undefined) {
      const expected = check.columns.map((c) => c.toLowerCase());
      const actual = [...table.columns];
      if (expected.length !== actual.length || !expected.every((c) => table.columns.has(c))) {
        return `table ${check.table} has the columns (${actual.join(", ")}), but the statement creates (${expected.join(", ")})`;
      }
    }
    const missing = (check.indexes ?? []).filter((i) => !table.indexes.has(i.toLowerCase()));
    if (missing.length > 0) return `table ${check.table} lacks the key(s) ${missing.join(", ")} that the statement creates`;
    return undefined;
  }
  if (!table.exists) return `table ${check.table} does not exist`;
  const [what, name, names] = check.on === "column" ? ["column", check.column, table.columns] : ["key", check.index, table.indexes];
  if (names.has(name.toLowerCase()) === check.present) return undefined;
  return `${what} ${check.table}.${name} ${check.present ? "does not exist" : "still exists"}`;
}
