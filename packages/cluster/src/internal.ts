/**
 * Helix's own plumbing from `@helix/cluster`, shared with `@helix/coordinator` and the service: the
 * ownership protocol's writes and the keys of the cluster's rows and leases. Not public: no
 * compatibility promise, and any release may change it. Applications use `@helix/cluster`.
 * @packageDocumentation
 */
export { partitionKey, sweepLeaseKey, taskListKey } from "./keys";
/**
 * The ownership protocol's writes (members, ownership table, change counters), each returning what
 * it changed: for coordinators. Applications use `join`, `Catalog` and `OwnershipStore`.
 */
export * as ownershipProtocol from "./ownership";
/** How many changes a run of a round's batch takes (a class: its type is needed apart from the namespace). */
export { RunPace } from "./ownership";
