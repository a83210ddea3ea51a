/**
 * Values a parameter of Helix's public API must refuse, by the kind of value it takes: each gets an
 * error with code `HELIX_INVALID_ARGUMENT` naming the parameter, before anything is sent. `null`
 * is refused for optional parameters too (only `undefined` means "the default"). Unicode is not
 * hostile: a text parameter takes {@link UNICODE_TEXT}.
 */
export const HOSTILE_VALUES = {
  /** For a whole number: a count, a number of milliseconds, a partition, an epoch. */
  integer: [Number.NaN, -1, 2 ** 53, Number.POSITIVE_INFINITY, 1.5, "1", "", null, {}],
  /** For text: a key, a name, an id. */
  text: ["", "x".repeat(10_000), " padded", "new\nline", 42, null, {}, ["a"]],
  /** For an options object. */
  options: [null, 42, "x", []],
} as const;

/** A hostile value as a test's title shows it: a long string by its length. */
export function hostileLabel(value: unknown): string {
  if (typeof value === "string" && value.length > 40) return `a string of ${value.length} characters`;
  if (typeof value === "number" || value === undefined) return String(value);
  return JSON.stringify(value);
}

/** Text in three scripts and an emoji, which every text parameter takes. */
export const UNICODE_TEXT = "ключ-鍵-🔑";

/**
 * What `call` was refused with, if it was refused at once: thrown, or rejected before the event
 * loop's next turn, so before any answer from a database could have come. Fails otherwise.
 */
export async function refusalOf(call: () => unknown): Promise<unknown> {
  let outcome: { error: unknown } | { value: unknown } | undefined;
  try {
    Promise.resolve(call()).then(
      (value: unknown) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
  } catch (error) {
    return error;
  }
  await new Promise((resolve) => setImmediate(resolve));
  if (outcome === undefined) throw new Error("the call was not refused at once: it is still running");
  if (!("error" in outcome)) throw new Error(`the call was not refused: it returned ${String(outcome.value)}`);
  return outcome.error;
}

/** One parameter of a sweep: what is called, the parameter its refusal names, hostile values, the call. */
export type HostileParameter = readonly [name: string, argument: string, values: readonly unknown[], call: (value: unknown) => unknown];

/** A sweep's parameters as one case per hostile value: [name, argument, label, value, call]. */
export function hostileCases(parameters: readonly HostileParameter[]): [string, string, string, unknown, (value: unknown) => unknown][] {
  return parameters.flatMap(([name, argument, values, call]) =>
    values.map(
      (value) => [name, argument, hostileLabel(value), value, call] as [string, string, string, unknown, (value: unknown) => unknown],
    ),
  );
}

/**
 * Checks that `call` is refused at once (see {@link refusalOf}) with code `HELIX_INVALID_ARGUMENT`
 * naming `argument`, in a message short enough never to carry a long value back whole, and that
 * `sent()` (statements sent so far) did not move. Throws what it found otherwise.
 */
export async function expectRefusal(call: () => unknown, argument: string, sent: () => number = () => 0): Promise<void> {
  const before = sent();
  const error = (await refusalOf(call)) as { code?: unknown; argument?: unknown; message?: unknown } | null;
  if (error?.code !== "HELIX_INVALID_ARGUMENT" || error.argument !== argument) {
    throw new Error(
      `expected HELIX_INVALID_ARGUMENT naming ${argument}, got ${String(error?.code)} naming ${String(error?.argument)}: ${String(error?.message)}`,
    );
  }
  if (typeof error.message !== "string" || error.message.length >= 300)
    throw new Error(`the message is ${String(error.message).length} characters long`);
  if (sent() !== before) throw new Error(`${sent() - before} statement(s) were sent before the refusal`);
}
