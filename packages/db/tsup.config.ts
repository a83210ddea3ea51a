import { defineConfig } from "tsup";

import { libraryBuild } from "../../tsup.preset";

// Two entry points: the public API, and the plumbing Helix's own packages share (not public).
// Split into shared chunks in both formats, so that both entries hold the same classes (an error
// thrown through one is an instance of the class the other exports).
export default defineConfig({ ...libraryBuild, entry: ["src/index.ts", "src/internal.ts"], splitting: true });
