// Random cluster states for the planner's property tests, and short ways to plan them.
import fc from "fast-check";

import { PartitionState } from "@helix/db";

import { planOwnership, type PlannerMember, type Transition } from "../../src";
import { toPlannerLists, type ClusterState, type ListState, type Row } from "./model";

const { Unassigned, Assigned, ReleaseRequested, Released } = PartitionState;

/** Random small clusters in any state: owners live, dead or unknown, rows in every state. */
export function arbitraryCluster(options: { weighted: boolean; maxMembers?: number; maxLists?: number; maxPartitions?: number }) {
  const maxMembers = options.maxMembers ?? 5;
  return fc
    .record({
      members: fc.array(fc.record({ live: fc.boolean(), weight: options.weighted ? fc.integer({ min: 0, max: 3 }) : fc.constant(1) }), {
        minLength: 1,
        maxLength: maxMembers,
      }),
      lists: fc.array(
        fc.record({
          partitions: fc.integer({ min: 1, max: options.maxPartitions ?? 12 }),
          rows: fc.array(
            fc.record({
              owner: fc.integer({ min: -1, max: maxMembers }),
              state: fc.constantFrom(Assigned, Assigned, Assigned, Unassigned, ReleaseRequested, Released),
              generation: fc.integer({ min: 0, max: 9 }),
              releaseAgeMs: fc.integer({ min: 0, max: 60_000 }),
            }),
            { minLength: 12, maxLength: 12 },
          ),
        }),
        { minLength: 1, maxLength: options.maxLists ?? 4 },
      ),
    })
    .map(({ members, lists }): ClusterState => {
      const planned: PlannerMember[] = members.map((m, i) => ({
        nodeId: `m${i}`,
        weight: i === 0 ? Math.max(1, m.weight) : m.weight,
        live: m.live || i === 0,
        sinceExpiryMs: m.live || i === 0 ? -1 : 5000,
      }));
      return {
        members: planned,
        lists: lists.map((l, li): ListState => ({
          domain: "d",
          taskList: `t${li}`,
          partitions: l.partitions,
          rows: l.rows.slice(0, l.partitions).map((r, p): Row => {
            const nodeId = r.owner === -1 || r.state === Unassigned ? null : `m${r.owner}`;
            return {
              partition: p,
              nodeId,
              state: nodeId === null ? Unassigned : r.state,
              generation: r.generation,
              targetNodeId: null,
              releaseAgeMs: nodeId !== null && r.state === ReleaseRequested ? r.releaseAgeMs : -1,
            };
          }),
        })),
      };
    });
}

export const clusterState = arbitraryCluster({ weighted: false });
export const weightedState = arbitraryCluster({ weighted: true });
export const anyState = fc.oneof(clusterState, weightedState);

export const plan = (state: ClusterState, options = {}) =>
  planOwnership({ members: state.members, taskLists: toPlannerLists(state), options });
export const releases = (transitions: Transition[]): number => transitions.filter((t) => t.type === "release").length;
export const live = (state: ClusterState): Set<string> => new Set(state.members.filter((m) => m.live).map((m) => m.nodeId));
