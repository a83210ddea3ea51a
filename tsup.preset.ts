import type { Options } from "tsup";

/** How every published Helix package is built: ESM + CJS + type declarations for Node 20. */
export const libraryBuild: Options = {
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  platform: "node",
  target: "node20",
  clean: true,
  sourcemap: true,
};

/**
 * A package with two entry points: the public API, and the plumbing Helix's own packages share
 * (`internal`, not public). Split into shared chunks in both formats, so that both entries hold the
 * same classes (an error thrown through one is an instance of the class the other exports).
 */
export const libraryWithInternalBuild: Options = { ...libraryBuild, entry: ["src/index.ts", "src/internal.ts"], splitting: true };
