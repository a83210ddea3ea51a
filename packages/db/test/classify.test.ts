// How a driver error is read: a conflict to retry, a connection that cannot be used, or the
// statement's own fault. Every code and errno the policy names is checked by itself, so that
// dropping one from the lists fails here.
import { classified, classifying, isConnectionError, isRetryableConflict, retryConflicts } from "../src/classify";
import { DatabaseUnavailableError } from "../src/errors";

const driverError = (fields: Record<string, unknown>, message = "driver error"): Error => Object.assign(new Error(message), fields);

describe("isRetryableConflict", () => {
  test.each([1213, 1205, 9007])("errno %d is a conflict", (errno) => {
    expect(isRetryableConflict(driverError({ errno }))).toBe(true);
  });

  test.each([
    ["a duplicate key", driverError({ errno: 1062 })],
    ["a conflict's errno as text", driverError({ errno: "1213" })],
    ["an error without errno", new Error("x")],
    ["null", null],
    ["undefined", undefined],
  ])("%s is not", (_name, error) => {
    expect(isRetryableConflict(error)).toBe(false);
  });
});

describe("isConnectionError", () => {
  test.each([
    "HELIX_STATEMENT_TIMEOUT",
    "ECONNREFUSED",
    "ECONNRESET",
    "EPIPE",
    "ETIMEDOUT",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "ENOTFOUND",
    "EAI_AGAIN",
    "PROTOCOL_CONNECTION_LOST",
    "PROTOCOL_SEQUENCE_TIMEOUT",
    "PROTOCOL_PACKETS_OUT_OF_ORDER",
    "ER_CON_COUNT_ERROR",
    "ER_SERVER_SHUTDOWN",
    "ER_CONNECTION_KILLED",
    "ER_QUERY_INTERRUPTED",
    "ER_ACCOUNT_HAS_BEEN_LOCKED",
    "ER_ACCESS_DENIED_ERROR",
    "ER_CLIENT_INTERACTION_TIMEOUT",
  ])("code %s, alone, is one", (code) => {
    expect(isConnectionError(driverError({ code }))).toBe(true);
  });

  test.each([1040, 1044, 1045, 1053, 1129, 1130, 1203, 1317, 1927, 2006, 2013, 3032, 3118, 4031, 4151])(
    "errno %d, alone, is one",
    (errno) => {
      expect(isConnectionError(driverError({ errno }))).toBe(true);
    },
  );

  test("a closed pool, and a command on a closed connection, are", () => {
    expect(isConnectionError(new Error("Pool is closed."))).toBe(true);
    expect(isConnectionError(new Error("Can't add new command when connection is in closed state (query)"))).toBe(true);
  });

  test("a fatal error is, whatever its code", () => {
    expect(isConnectionError(driverError({ code: "ER_SOMETHING_NEW", fatal: true }))).toBe(true);
  });

  test.each([
    ["a statement's own fault", driverError({ code: "ER_DUP_ENTRY", errno: 1062, fatal: false })],
    ["a conflict", driverError({ code: "ER_LOCK_DEADLOCK", errno: 1213 })],
    ["a fatal flag that is not true", driverError({ fatal: "true" })],
    ["a code given as a number", driverError({ code: 1040 })],
    ["an errno given as text", driverError({ errno: "1040" })],
    ["a message that only mentions a closed pool", new Error("the Pool is closed. again")],
    ["a closed connection's message, not at the start", new Error("error: Can't add new command when connection is in closed state")],
    ["a plain error", new Error("x")],
  ])("%s is not", (_name, error) => {
    expect(isConnectionError(error)).toBe(false);
  });

  test("only an Error is: an object shaped like one is not", () => {
    expect(isConnectionError({ code: "ECONNRESET", errno: 2013, fatal: true, message: "Pool is closed." })).toBe(false);
    expect(isConnectionError({ fatal: true })).toBe(false);
    expect(isConnectionError("ECONNRESET")).toBe(false);
    expect(isConnectionError(null)).toBe(false);
  });
});

describe("retryConflicts", () => {
  const conflict = (): Error => driverError({ errno: 1213, code: "ER_LOCK_DEADLOCK" });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  test("runs again after conflicts, and returns what the first success returns", async () => {
    let calls = 0;
    const result = await retryConflicts(async () => {
      if (++calls < 3) throw conflict();
      return "done";
    });
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  test("gives up after 8 attempts in all by default, throwing the last conflict", async () => {
    jest.spyOn(Math, "random").mockReturnValue(0);
    const errors: Error[] = [];
    const thrown = await retryConflicts(async () => {
      const error = conflict();
      errors.push(error);
      throw error;
    }).catch((error: unknown) => error);
    expect(errors).toHaveLength(8);
    expect(thrown).toBe(errors[7]);
  });

  test("takes as many attempts as it is given", async () => {
    let calls = 0;
    const thrown = retryConflicts(
      async () => {
        calls++;
        throw conflict();
      },
      { attempts: 2 },
    );
    await expect(thrown).rejects.toMatchObject({ errno: 1213 });
    expect(calls).toBe(2);
  });

  test("throws any other error at once", async () => {
    let calls = 0;
    const other = driverError({ errno: 1062 });
    await expect(
      retryConflicts(async () => {
        calls++;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });

  test("stops retrying once its signal has aborted", async () => {
    let calls = 0;
    await expect(
      retryConflicts(
        async () => {
          calls++;
          throw conflict();
        },
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toMatchObject({ errno: 1213 });
    expect(calls).toBe(1);
  });

  test("backs off longer after each conflict", async () => {
    jest.spyOn(Math, "random").mockReturnValue(1);
    const startedAt = performance.now();
    await retryConflicts(
      async () => {
        throw conflict();
      },
      { attempts: 4 },
    ).catch(() => undefined);
    // Steps of 5, 10 and 20 ms; the same first step three times would be 15.
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(30);
  });
});

describe("classified and classifying", () => {
  test("a lost connection becomes DatabaseUnavailableError naming the server, with the driver's error as cause", () => {
    const lost = driverError({ code: "PROTOCOL_CONNECTION_LOST", fatal: true }, "Connection lost");
    const error = classified("db1:3306/helix", lost);
    expect(error).toBeInstanceOf(DatabaseUnavailableError);
    expect(error).toMatchObject({
      server: "db1:3306/helix",
      cause: lost,
      message: "database db1:3306/helix is unavailable: Connection lost",
    });
  });

  test("anything else is returned as it is", () => {
    const own = driverError({ code: "ER_DUP_ENTRY", errno: 1062 });
    expect(classified("db1", own)).toBe(own);
  });

  test("classifying returns what the call returns, and throws what it throws, classified", async () => {
    await expect(classifying("db1", async () => 42)).resolves.toBe(42);
    const own = driverError({ code: "ER_DUP_ENTRY" });
    await expect(
      classifying("db1", async () => {
        throw own;
      }),
    ).rejects.toBe(own);
    await expect(
      classifying("db1", async () => {
        throw driverError({ code: "ECONNRESET" });
      }),
    ).rejects.toMatchObject({ server: "db1", code: "HELIX_DATABASE_UNAVAILABLE" });
  });
});
