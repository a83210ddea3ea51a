/** Jest global teardown: stops the MySQL container that global setup started, if any. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__helixMySqlContainer?.stop();
}
