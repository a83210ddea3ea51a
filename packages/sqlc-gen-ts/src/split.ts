/**
 * Splits a SQL script into statements at top-level semicolons, dropping comments (`-- `, `#`,
 * C-style) and blank lines, and leaving quoted strings and identifiers intact.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = "";
  let i = 0;
  while (i < script.length) {
    const c = script[i]!;
    const next = script[i + 1];
    if ((c === "-" && next === "-" && /\s/.test(script[i + 2] ?? "\n")) || c === "#") {
      const end = script.indexOf("\n", i);
      i = end === -1 ? script.length : end;
    } else if (c === "/" && next === "*") {
      const end = script.indexOf("*/", i + 2);
      if (end === -1) throw new Error("unterminated /* comment in SQL script");
      i = end + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      const end = quotedEnd(script, i);
      current += script.slice(i, end);
      i = end;
    } else if (c === ";") {
      pushStatement(statements, current);
      current = "";
      i += 1;
    } else {
      current += c;
      i += 1;
    }
  }
  pushStatement(statements, current);
  return statements;
}

/** Where the quoted string or identifier that opens at `start` ends (just past its closing quote). */
export function quotedEnd(script: string, start: number): number {
  const quote = script[start];
  let i = start + 1;
  while (i < script.length) {
    const c = script[i];
    if (c === "\\" && quote !== "`") {
      i += 2;
    } else if (c === quote) {
      if (script[i + 1] === quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      i += 1;
    }
  }
  throw new Error(`unterminated ${quote ?? ""} quote in SQL script`);
}

function pushStatement(statements: string[], text: string): void {
  const lines = text
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
  if (lines.length > 0) statements.push(lines.join("\n").trim());
}
