import type { Command } from "commander";

import { createCatalog, InvalidArgumentError, MAX_PARTITIONS, resolveTaskListSpec, Status, type Catalog } from "@helix/coordinator";

import type { CommandContext } from "./context";
import { checkedAsFlags, checkName, clusterOf, clusterOption, printList, wholeNumber } from "./helpers";

/** `helix tasklist put | ls | rm`: the task lists of a cluster's catalog. */
export function registerTaskList(program: Command, context: CommandContext): void {
  const { output } = context;
  // One short-lived catalog per command: the process exits right after, so there is nothing to reuse.
  const withCatalog = async <T>(options: { cluster?: string }, use: (catalog: Catalog, cluster: string) => Promise<T>): Promise<T> => {
    const cluster = clusterOf(context, options);
    await using catalog = await createCatalog(context.config().mysqlUrl, { cluster });
    // Awaited here, not returned as a promise: the catalog is disposed when this function returns.
    return await use(catalog, cluster);
  };

  const tasklist = program.command("tasklist").description("manage the task lists of a cluster's catalog");
  tasklist
    .command("put")
    .description("create a task list, or change its partition count or metadata")
    .argument("<domain>")
    .argument("<taskList>")
    .argument("<partitions>", `1 to ${MAX_PARTITIONS}`, wholeNumber("partitions"))
    .addOption(clusterOption())
    .option("--metadata <json>", "a JSON object stored with the task list")
    .action(async (domain: string, name: string, partitions: number, options: { cluster?: string; metadata?: string }) => {
      const metadata = parseMetadata(options.metadata);
      // Checked before connecting, so that bad input is bad usage (exit code 2).
      checkedAsFlags({ metadata: "--metadata" }, () => resolveTaskListSpec({ domain, taskList: name, partitions, metadata }));
      await withCatalog(options, async (catalog, cluster) => {
        const result = await catalog.putTaskList({ domain, taskList: name, partitions, metadata });
        output.out(`${cluster}: ${domain}/${name} ${result} (${partitions} partitions)`);
      });
    });
  tasklist
    .command("ls")
    .description("list the task lists")
    .addOption(clusterOption())
    .option("--json", "print JSON")
    .action(async (options: { cluster?: string; json?: boolean }) => {
      const lists = await withCatalog(options, (catalog) => catalog.listTaskLists());
      printList(
        output,
        lists,
        options.json,
        "no task lists",
        (l) =>
          `${l.domain}/${l.taskList}  ${l.partitions} partition(s)${l.status === Status.Active ? "" : "  (being removed)"}  ${JSON.stringify(l.metadata)}`,
      );
    });
  tasklist
    .command("rm")
    .description("remove a task list (its partitions are released by their owners, then deleted)")
    .argument("<domain>")
    .argument("<taskList>")
    .addOption(clusterOption())
    .action(async (domain: string, name: string, options: { cluster?: string }) => {
      checkName("domain", domain);
      checkName("taskList", name);
      await withCatalog(options, async (catalog, cluster) => {
        await catalog.removeTaskList(domain, name);
        output.out(`${cluster}: ${domain}/${name} removed`);
      });
    });
}

/**
 * `--metadata` as an object. Parsed before the catalog is opened, so that a typo is reported as bad
 * usage (exit code 2) without touching the database.
 * @throws `InvalidArgumentError` when it is not a JSON object (an array, `null` or a number is not).
 */
function parseMetadata(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError("--metadata", 'must be a JSON object, such as \'{"team": "payments"}\'');
  }
  return parsed as Record<string, unknown>;
}
