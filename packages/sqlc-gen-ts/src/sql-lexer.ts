// The one SQL lexer of Helix, for the MySQL dialect that MariaDB and TiDB share: sqlc-gen-ts
// splits migration files into statements with it when it generates code, and @helix/db (which
// bundles this module) reads a migration statement's names with it at run time.

/** A piece of SQL text. */
export interface SqlToken {
  /**
   * `space` and `comment` carry no meaning; `word` is an unquoted keyword, name or number
   * (compared case-insensitively); `name` a back-quoted name; `string` a quoted string; `punct`
   * any other character.
   */
  readonly kind: "space" | "comment" | "word" | "name" | "string" | "punct";
  /** The text as written (a name or string with its quotes). */
  readonly raw: string;
  /** A `name` without its back quotes (doubled ones undone); otherwise the text as written. */
  readonly text: string;
  /** Where the token starts in the text. */
  readonly start: number;
}

/** Text that is not SQL the lexer can read: a string, name or comment left open. */
export class SqlSyntaxError extends Error {
  override name = "SqlSyntaxError";
}

// Every character matches one alternative, so the sticky scan reads the whole text. A `--` starts a
// comment only when white space or the end follows it, as in MySQL. Within quotes, a backslash
// escapes the next character (a line break too) and a doubled quote stands for one; back-quoted
// names have no escapes.
const TOKEN =
  /(\s+)|(--(?=\s|$)[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|(`(?:[^`]|``)*`)|('(?:[^'\\]|\\[\s\S]|'')*'|"(?:[^"\\]|\\[\s\S]|"")*")|([\w$]+)|([\s\S])/gy;

/**
 * Every token of `sql`, white space and comments included (their texts joined give `sql` back).
 * @throws {@link SqlSyntaxError} for a string, a back-quoted name or a `/*` comment left open.
 */
export function tokenize(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  for (const match of sql.matchAll(TOKEN)) {
    const [raw, space, comment, name, string, word] = match;
    const start = match.index;
    if (space !== undefined) tokens.push({ kind: "space", raw, text: raw, start });
    else if (comment !== undefined) tokens.push({ kind: "comment", raw, text: raw, start });
    else if (name !== undefined) tokens.push({ kind: "name", raw, text: name.slice(1, -1).replaceAll("``", "`"), start });
    else if (string !== undefined) tokens.push({ kind: "string", raw, text: raw, start });
    else if (word !== undefined) tokens.push({ kind: "word", raw, text: raw, start });
    else if (raw === "'" || raw === '"' || raw === "`") throw new SqlSyntaxError(`unterminated ${raw} quote in SQL script`);
    else if (raw === "/" && sql[start + 1] === "*") throw new SqlSyntaxError("unterminated /* comment in SQL script");
    else tokens.push({ kind: "punct", raw, text: raw, start });
  }
  return tokens;
}

/**
 * Splits a SQL script into statements at top-level semicolons, dropping comments and blank lines
 * and trailing white space, and leaving quoted strings and names intact.
 * @throws {@link SqlSyntaxError} as {@link tokenize} does.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = "";
  for (const token of tokenize(script)) {
    if (token.kind === "comment") continue;
    if (token.kind === "punct" && token.raw === ";") {
      pushStatement(statements, current);
      current = "";
    } else {
      current += token.raw;
    }
  }
  pushStatement(statements, current);
  return statements;
}

function pushStatement(statements: string[], text: string): void {
  const lines = text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
  if (lines.length > 0) statements.push(lines.join("\n").trim());
}
