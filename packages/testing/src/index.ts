export {
  createTestDatabase,
  migratedDatabase,
  TEST_SERVER_ENV,
  testServerUrl,
  until,
  withServer,
  type MigratedDatabase,
  type TestDatabase,
} from "./database";
export { FaultyPool } from "./faulty-pool";
export { expectRefusal, HOSTILE_VALUES, hostileCases, hostileLabel, refusalOf, UNICODE_TEXT, type HostileParameter } from "./hostile";
export { FAKE_CLOCK, JsonChild, ProcessTrap } from "./processes";
export { proxiedPool, TcpProxy, type ProxiedPool } from "./proxy";
export { seededRandom } from "./random";
