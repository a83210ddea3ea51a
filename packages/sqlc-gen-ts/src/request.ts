/**
 * The parts of sqlc's `GenerateRequest` (plugin/codegen.proto) that this generator reads, as sqlc
 * writes them for a process plugin with `format: json` (protojson with proto field names).
 */
export interface GenerateRequest {
  readonly settings: Settings;
  readonly queries: readonly Query[];
  readonly sqlc_version: string;
  /** The `options` object of the codegen entry in sqlc.yaml, JSON encoded, then base64 encoded. */
  readonly plugin_options: string;
}

export interface Settings {
  readonly engine: string;
  readonly schema: readonly string[];
  readonly queries: readonly string[];
}

export interface Query {
  readonly text: string;
  readonly name: string;
  readonly cmd: string;
  readonly columns: readonly Column[];
  readonly params: readonly Parameter[];
  readonly comments: readonly string[];
  readonly filename: string;
}

export interface Parameter {
  readonly number: number;
  readonly column: Column;
}

export interface Column {
  readonly name: string;
  readonly not_null: boolean;
  readonly is_array: boolean;
  readonly is_sqlc_slice: boolean;
  readonly unsigned: boolean;
  readonly type: { readonly name: string } | null;
  /** The table a result column comes from, or that a parameter is compared with or written to; absent for an expression. */
  readonly table?: { readonly name: string } | null;
  /** The column's COMMENT in the schema, "" when it has none. */
  readonly comment?: string;
}

/** One file of sqlc's `GenerateResponse`; `contents` is base64, as protojson encodes bytes. */
export interface ResponseFile {
  readonly name: string;
  readonly contents: string;
}

/** The `options` of this plugin's codegen entry in sqlc.yaml. */
export interface PluginOptions {
  /** TypeScript types for parameters sqlc cannot type (an INTERVAL amount, say), by parameter name. */
  readonly param_types?: Readonly<Record<string, string>>;
  /** A schema file whose statements run before every migration run (must be idempotent). */
  readonly bootstrap?: string;
  /** A folder of versioned migrations named `NNNN_name.sql`, embedded into `migrations.ts`. */
  readonly migrations?: string;
}

/** Reads the schema files named in the plugin options (relative to where sqlc runs). */
export interface SourceReader {
  readFile(path: string): string;
  listDir(path: string): string[];
}
