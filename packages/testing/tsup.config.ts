import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/global-setup.ts", "src/global-teardown.ts"],
  format: ["esm", "cjs"],
  dts: { entry: ["src/index.ts"] },
  platform: "node",
  target: "node20",
  clean: true,
  sourcemap: true,
});
