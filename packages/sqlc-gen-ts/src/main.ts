import { readFileSync, readdirSync } from "node:fs";

import { generate } from "./generate";
import type { GenerateRequest, ResponseFile } from "./request";

// sqlc passes the RPC method name as the only argument; the plugin serves just one method.
try {
  const request = JSON.parse(readFileSync(0, "utf8")) as GenerateRequest;
  const files = generate(request, {
    readFile: (path) => readFileSync(path, "utf8"),
    listDir: (path) => readdirSync(path),
  });
  const response: { files: ResponseFile[] } = {
    files: [...files].map(([name, text]) => ({ name, contents: Buffer.from(text, "utf8").toString("base64") })),
  };
  process.stdout.write(JSON.stringify(response));
} catch (error) {
  process.stderr.write(`sqlc-gen-ts: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
