import { defineConfig } from "tsup";

import { libraryBuild } from "../../tsup.preset";

export default defineConfig({
  ...libraryBuild,
  entry: ["src/index.ts", "src/global-setup.ts", "src/global-teardown.ts"],
  dts: { entry: ["src/index.ts"] },
  shims: true,
});
