import { defineConfig } from "tsup";

import { libraryWithInternalBuild } from "../../tsup.preset";

export default defineConfig(libraryWithInternalBuild);
