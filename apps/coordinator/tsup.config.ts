import { defineConfig } from "tsup";

import { libraryBuild } from "../../tsup.preset";

// One build for the library entry and the `helix` executable, so that `clean` cannot race.
export default defineConfig({
  ...libraryBuild,
  entry: ["src/index.ts", "src/cli.ts"],
  dts: { entry: ["src/index.ts"] },
  banner: { js: "#!/usr/bin/env node" },
});
