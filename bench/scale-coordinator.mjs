// The coordinator process of the scale benchmark:  node scale-coordinator.mjs <url> <cluster>
// One coordinator with the library's defaults. It prints JSON lines: `starting` (with the wall
// clock, just before createCoordinator() is called), `elected`, and one `round` per round that
// wrote. SIGTERM, or stdin closing (the benchmark ended or died), stops it; then it exits.
import { createCoordinator } from "@helix/coordinator";

const [url, cluster] = process.argv.slice(2);
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

let coordinator;
let stopping;
function stop(why) {
  stopping ??= (async () => {
    await coordinator?.stop().catch(() => undefined);
    say({ event: "stopped", why });
    process.exit(0);
  })();
  return stopping;
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.stdin.on("end", () => void stop("stdin")).resume();

try {
  say({ event: "starting", at: Date.now() });
  coordinator = await createCoordinator(url, { cluster, id: `scale-${process.pid}` });
  coordinator.on("leader:elected", ({ epoch }) => say({ event: "elected", epoch, at: Date.now() }));
  coordinator.on("leader:lost", ({ error }) => say({ event: "lost", message: error.message, at: Date.now() }));
  coordinator.on("round:done", (r) => {
    if (r.wrote)
      say({
        event: "round",
        trigger: r.trigger,
        ms: Math.round(r.durationMs),
        planned: r.planned,
        applied: r.applied.length,
        at: Date.now(),
      });
  });
  coordinator.on("round:error", (error) => say({ event: "round-error", message: error.message, at: Date.now() }));
} catch (error) {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}
