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
