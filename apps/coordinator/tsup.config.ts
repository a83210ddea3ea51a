import { defineConfig } from "tsup";

import { libraryBuild } from "../../tsup.preset";

// One build for the library entry and the `helix` executable, so that `clean` cannot race.
// `shims` gives the ESM build `__dirname`, which the demo uses to find the executable.
export default defineConfig({
  ...libraryBuild,
  entry: ["src/index.ts", "src/cli.ts"],
  dts: { entry: ["src/index.ts"] },
  banner: { js: "#!/usr/bin/env node" },
  shims: true,
});
