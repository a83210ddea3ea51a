import { SqlSyntaxError, tokenize, type SqlToken } from "@helix/sqlc-gen-ts/sql-lexer";

// A small parser over the SQL lexer's tokens, enough for the DDL that migrations hold. Anything it does not
// understand makes the statement unrecognized, which is safe: it then fails as it always did.

/** The statement is not one the parser knows. */
export class Unrecognized extends Error {}

/** The tokens that carry meaning (white space, comments and the closing `;` dropped). */
function meaningful(sql: string): SqlToken[] {
  return tokenize(sql).filter((t) => t.kind !== "space" && t.kind !== "comment" && !(t.kind === "punct" && t.raw === ";"));
}

/** Reads a statement's tokens in order; any surprise throws {@link Unrecognized}. */
export class Parser {
  #at = 0;

  constructor(private readonly tokens: readonly SqlToken[]) {}

  /** A parser of one statement's tokens; text the lexer cannot read is unrecognized. */
  static of(statement: string): Parser {
    try {
      return new Parser(meaningful(statement));
    } catch (error) {
      if (error instanceof SqlSyntaxError) throw new Unrecognized();
      throw error;
    }
  }

  done(): boolean {
    return this.#at >= this.tokens.length;
  }

  /** Whether the next token is the keyword or punctuation `text` (a `quoted` name never is). */
  at(text: string): boolean {
    const token = this.tokens[this.#at];
    if (token === undefined) return false;
    return token.kind === "word" ? token.text.toUpperCase() === text : token.kind === "punct" && token.text === text;
  }

  /** Takes the next token if it is one of `texts`; returns which. */
  accept(...texts: string[]): string | undefined {
    const found = texts.find((t) => this.at(t));
    if (found !== undefined) this.#at++;
    return found;
  }

  /** Takes the next token, which must be one of `texts`; returns which. */
  expect(...texts: string[]): string {
    const found = this.accept(...texts);
    if (found === undefined) throw new Unrecognized();
    return found;
  }

  /** Takes an unqualified name, quoted or not (a name qualified by a database is not recognized). */
  name(): string {
    const token = this.tokens[this.#at++];
    if (token === undefined || (token.kind !== "word" && token.kind !== "name") || this.at(".")) throw new Unrecognized();
    return token.text;
  }

  skipRest(): void {
    this.#at = this.tokens.length;
  }

  /**
   * Splits what follows into comma-separated parts at the top level. With `inParens`, the list is
   * the one between the "(" just taken and its ")", and parsing goes on after the ")".
   */
  list(inParens = true): Parser[] {
    const items: SqlToken[][] = [[]];
    let depth = 0;
    for (; this.#at < this.tokens.length; this.#at++) {
      const token = this.tokens[this.#at]!;
      const punct = token.kind === "punct" ? token.text : "";
      if (punct === ")" && depth === 0) {
        if (inParens) break;
        throw new Unrecognized();
      }
      if (punct === "(") depth++;
      if (punct === ")") depth--;
      if (punct === "," && depth === 0) items.push([]);
      else items.at(-1)!.push(token);
    }
    if (inParens && this.accept(")") === undefined) throw new Unrecognized();
    if (items.some((item) => item.length === 0)) throw new Unrecognized();
    return items.map((item) => new Parser(item));
  }
}
