import { PartitionState } from "@helix/db";

import { addAt, checked } from "./checked";
import { countDrainInFlight, DRAIN_WAVE } from "./drain-waves";
import type { AssignReason, Plan, PlannerPartition, PlannerTaskList, ResolvedPlannerOptions, Transition } from "./types";
import type { MembersByList } from "./members-by-list";
import type { Quotas, Roster } from "./quotas";

const { Unassigned, ReleaseRequested, Released } = PartitionState;

/** What the transitions are planned from: the members, their quotas and who gets which extras. */
export interface TransitionInput {
  readonly roster: Roster;
  readonly quotas: Quotas;
  /** Per task list, the members that get one of its extras. */
  readonly extras: MembersByList;
  readonly lists: readonly PlannerTaskList[];
  readonly options: ResolvedPlannerOptions;
}

/**
 * Turns the targets (each member's floor in each task list, plus one where it gets an extra) into the
 * plan, task list by task list: members keep what fits their target; partitions without a live owner
 * are given to live members below target; a live owner's surplus is asked to be released to one of
 * them, within the move limits.
 */
export function planTransitions(input: TransitionInput): Plan {
  const round = new Round(input);
  for (let list = 0; list < input.lists.length; list++) new TaskListPass(round, list).run();
  return round.plan();
}

/** A partition that can be given to a member at once, and why. */
interface FreePartition {
  readonly row: PlannerPartition;
  /** Its previous owner, or null. */
  readonly from: string | null;
  readonly reason: AssignReason;
}

/** A partition its live or vanished owner holds beyond its target. */
interface SurplusPartition {
  readonly row: PlannerPartition;
  readonly owner: number;
}

/** The plan being written, and the scratch that every task list's pass shares. */
class Round {
  readonly transitions: Transition[] = [];
  /** Release requests waiting for their owner's confirmation, this round's included. */
  pendingHandoffs = 0;
  /** The earliest time anything waits for, or Infinity. */
  nextCheckMs: number;
  /** Per member, the partitions it should own over all task lists. */
  readonly totals: Float64Array;
  /** Per member, the release requests made from it, and to it, this round. */
  readonly movesOut: Int32Array;
  /** Per draining member (weight 0), its releases in flight: pending before this round, and asked for in it. */
  readonly drainInFlight: Int32Array;
  /** A draining member kept partitions because its wave was full. */
  drainWaiting = false;
  readonly movesIn: Int32Array;
  // Per-task-list scratch: a member's `kept` and `need` are valid only while its `seenIn` stamp is the
  // task list's index, and it gets an extra there while its `chosenIn` stamp is; stamps need no clearing.
  readonly chosenIn: Int32Array;
  readonly seenIn: Int32Array;
  /** Partitions the member owns and keeps in the task list. */
  readonly kept: Int32Array;
  /** Partitions the member still needs in the task list, 0 for a vanished one. */
  readonly need: Int32Array;

  constructor(readonly input: TransitionInput) {
    const memberCount = input.roster.size;
    this.nextCheckMs = input.roster.graceEndsMs;
    this.totals = new Float64Array(memberCount);
    this.movesOut = new Int32Array(memberCount);
    this.drainInFlight = countDrainInFlight(input);
    this.movesIn = new Int32Array(memberCount);
    this.chosenIn = new Int32Array(memberCount).fill(-1);
    this.seenIn = new Int32Array(memberCount).fill(-1);
    this.kept = new Int32Array(memberCount);
    this.need = new Int32Array(memberCount);
  }

  /** Something waits until `ms` from now. */
  waitFor(ms: number): void {
    this.nextCheckMs = Math.min(this.nextCheckMs, ms);
  }

  /** The plan, once every task list has had its pass. */
  plan(): Plan {
    const targets = new Map<string, number>();
    for (const [member, id] of this.input.roster.ids.entries()) targets.set(id, checked(this.totals[member]));
    return {
      transitions: this.transitions,
      pendingHandoffs: this.pendingHandoffs,
      nextCheckMs: this.nextCheckMs === Infinity ? null : Math.max(0, this.nextCheckMs),
      targets,
      ...(this.drainWaiting ? { drainWaiting: true } : {}),
    };
  }
}

/** One task list's part of the plan. */
class TaskListPass {
  readonly #round: Round;
  readonly #list: number;
  readonly #taskList: PlannerTaskList;
  /**
   * When some member's floor is positive every member has a share here; otherwise only the members
   * with an extra do, and the loops stay proportional to the task list's size.
   */
  readonly #dense: boolean;
  /** Live members below their target here, by index. */
  readonly #receivers: number[] = [];
  /** Receivers before this one have no need left. */
  #cursor = 0;
  /** Release requests made here this round. */
  #moves = 0;

  constructor(round: Round, list: number) {
    const { roster } = round.input;
    this.#round = round;
    this.#list = list;
    this.#taskList = checked(round.input.lists[list]);
    this.#dense = roster.totalWeight > 0 && this.#taskList.partitions * roster.maxWeight >= roster.totalWeight;
  }

  /** Plans the task list's transitions. */
  run(): void {
    this.#countTargets();
    const placed = this.#placeOperatorPartitions();
    const { free, pending, surplus } = this.#sortRows(placed);
    this.#findReceivers();
    // Pending releases go where they were meant to, if that member still needs them.
    for (const row of pending) {
      this.#round.pendingHandoffs++;
      const to = this.#nextReceiver(row.targetNodeId);
      if (to !== -1) addAt(this.#round.need, to, -1);
    }
    this.#assignFree(free);
    this.#requestReleases(surplus);
  }

  /** Marks the members with an extra here, and adds everyone's target here to their totals. */
  #countTargets(): void {
    const { roster, quotas, extras } = this.#round.input;
    const { chosenIn, totals } = this.#round;
    for (const member of extras.of(this.#list)) {
      chosenIn[member] = this.#list;
      addAt(totals, member, 1);
    }
    if (!this.#dense) return;
    for (let member = 0; member < roster.size; member++) {
      this.#touch(member);
      addAt(totals, member, quotas.floorShare(this.#taskList.partitions, member));
    }
  }

  /** How many partitions the member should own here. */
  #target(member: number): number {
    const floor = this.#dense ? this.#round.input.quotas.floorShare(this.#taskList.partitions, member) : 0;
    return floor + (this.#round.chosenIn[member] === this.#list ? 1 : 0);
  }

  /** Starts the member's scratch for this task list, once. */
  #touch(member: number): void {
    const round = this.#round;
    if (round.seenIn[member] === this.#list) return;
    round.seenIn[member] = this.#list;
    round.kept[member] = 0;
    round.need[member] = 0;
  }

  /**
   * Carries out the operator's placements that hold (see `PlannerTaskList.placed`): each partition
   * placed on a live member that is not draining counts as that member's, and goes to it at once
   * when free, or through a release request from a live owner (within the move limits).
   * @returns the partitions it took care of, which the rest of the pass leaves alone.
   */
  #placeOperatorPartitions(): ReadonlySet<number> {
    const placed = this.#taskList.placed;
    const done = new Set<number>();
    if (placed === undefined || placed.size === 0) return done;
    const round = this.#round;
    const { roster } = round.input;
    const { domain, taskList } = this.#taskList;
    for (const [partition, nodeId] of placed) {
      const member = roster.index.get(nodeId);
      const row = this.#rowOf(partition);
      if (member === undefined || !roster.isLive(member) || roster.weightOf(member) === 0 || row === undefined) continue;
      done.add(partition);
      this.#touch(member);
      addAt(round.kept, member, 1);
      const owner = row.nodeId === null ? undefined : roster.index.get(row.nodeId);
      // An owner whose TTL has passed does not hold it back: the operator says where it goes, so no delay.
      const reason = owner !== undefined && owner !== member && !roster.isLive(owner) ? "owner-gone" : this.#freeReason(row, owner);
      const { generation } = row;
      if (reason !== null) {
        const from = reason === "unassigned" ? null : row.nodeId;
        round.transitions.push({ type: "assign", domain, taskList, partition, generation, from, to: nodeId, reason, placed: true });
      } else if (row.state === ReleaseRequested) {
        round.pendingHandoffs++;
        this.#waitForRelease(row, owner!);
      } else if (owner !== member && this.#mayMove(owner!)) {
        this.#countMove(owner!, member);
        round.transitions.push({
          type: "release",
          domain,
          taskList,
          partition,
          generation,
          from: roster.idOf(owner!),
          to: nodeId,
          placed: true,
        });
      }
    }
    return done;
  }

  /** The row of partition `partition`, if the task list has one and the catalog still has the partition. */
  #rowOf(partition: number): PlannerPartition | undefined {
    const { rows, partitions } = this.#taskList;
    if (partition >= partitions) return undefined;
    // Rows come in partition order, one per partition from 0: the index is the partition's number.
    const at = rows[partition];
    return at?.partition === partition ? at : rows.find((r) => r.partition === partition);
  }

  /**
   * Why a row's partition may be given away now, or null when it may not: a live owner holds it,
   * or its owner has not confirmed a release yet. `owner`: the row's owner's index, if in the roster.
   */
  #freeReason(row: PlannerPartition, owner: number | undefined): AssignReason | null {
    const { roster } = this.#round.input;
    if (row.state === Unassigned || row.nodeId === null) return "unassigned";
    if (row.state === Released) return "released";
    if (owner === undefined || row.staleOwner === true || (row.state === ReleaseRequested && !roster.isLive(owner))) return "owner-gone";
    if (row.state === ReleaseRequested && row.releaseAgeMs >= roster.forceAfterMsOf(owner)) return "forced";
    return null;
  }

  /** A release its owner has not confirmed yet: the round waits until it may be forced. */
  #waitForRelease(row: PlannerPartition, owner: number): void {
    this.#round.waitFor(this.#round.input.roster.forceAfterMsOf(owner) - Math.max(0, row.releaseAgeMs));
  }

  /**
   * Sorts the task list's rows (but those in `placed`): partitions free to give now, releases still
   * waiting for their owner, and partitions a member owns beyond its target (counting what it keeps
   * on the way).
   */
  #sortRows(placed: ReadonlySet<number>): { free: FreePartition[]; pending: PlannerPartition[]; surplus: SurplusPartition[] } {
    const { roster } = this.#round.input;
    const free: FreePartition[] = [];
    const pending: PlannerPartition[] = [];
    const surplus: SurplusPartition[] = [];
    for (const row of this.#taskList.rows) {
      if (row.partition >= this.#taskList.partitions || (placed.size > 0 && placed.has(row.partition))) continue;
      const owner = row.nodeId === null ? undefined : roster.index.get(row.nodeId);
      const reason = this.#freeReason(row, owner);
      if (reason !== null) {
        free.push({ row, from: reason === "unassigned" ? null : row.nodeId, reason });
      } else if (row.state === ReleaseRequested) {
        pending.push(row);
        this.#waitForRelease(row, owner!);
      } else {
        this.#touch(owner!);
        if (checked(this.#round.kept[owner!]) < this.#target(owner!)) addAt(this.#round.kept, owner!, 1);
        else surplus.push({ row, owner: owner! });
      }
    }
    return { free, pending, surplus };
  }

  /** Finds the members that should own more here, live ones only: a vanished member's share waits for it. */
  #findReceivers(): void {
    const { roster, extras } = this.#round.input;
    const { kept, need } = this.#round;
    const consider = (member: number): void => {
      this.#touch(member);
      const lacking = roster.isLive(member) ? this.#target(member) - checked(kept[member]) : 0;
      need[member] = lacking;
      if (lacking > 0) this.#receivers.push(member);
    };
    if (this.#dense) for (let member = 0; member < roster.size; member++) consider(member);
    else for (const member of extras.of(this.#list)) consider(member);
    this.#receivers.sort((a, b) => a - b);
  }

  /** The `preferred` member if it still needs a partition here, else the first receiver that does, else -1. */
  #nextReceiver(preferred: string | null): number {
    const { need, seenIn } = this.#round;
    const member = preferred === null ? undefined : this.#round.input.roster.index.get(preferred);
    if (member !== undefined && seenIn[member] === this.#list && checked(need[member]) > 0) return member;
    for (; this.#cursor < this.#receivers.length; this.#cursor++) {
      const receiver = checked(this.#receivers[this.#cursor]);
      if (checked(need[receiver]) > 0) return receiver;
    }
    return -1;
  }

  /** The receiver for a release request: the next one, or with a per-member limit the first still under it. */
  #receiverForRelease(): number {
    const { maxMovesPerMember } = this.#round.input.options;
    if (maxMovesPerMember === Infinity) return this.#nextReceiver(null);
    const { need, movesIn } = this.#round;
    for (const receiver of this.#receivers) {
      if (checked(need[receiver]) > 0 && checked(movesIn[receiver]) < maxMovesPerMember) return receiver;
    }
    return -1;
  }

  /**
   * Gives free partitions to receivers, each to the member a release meant it for when it still
   * needs one, and one an earlier process of a node id owned back to that node id's new process.
   */
  #assignFree(free: readonly FreePartition[]): void {
    const round = this.#round;
    for (const { row, from, reason } of free) {
      const to = this.#nextReceiver(row.targetNodeId ?? (row.staleOwner === true ? row.nodeId : null));
      if (to === -1) continue;
      addAt(round.need, to, -1);
      const { domain, taskList } = this.#taskList;
      const { partition, generation } = row;
      round.transitions.push({ type: "assign", domain, taskList, partition, generation, from, to: round.input.roster.idOf(to), reason });
    }
  }

  /** Whether a release may be asked of `owner` within the move limits. */
  #mayMove(owner: number): boolean {
    const { options } = this.#round.input;
    return this.#moves < options.maxMovesPerTaskList && checked(this.#round.movesOut[owner]) < options.maxMovesPerMember;
  }

  /** Counts a release asked of `owner` for `to`: towards the move limits, and as a pending hand-off. */
  #countMove(owner: number, to: number): void {
    const round = this.#round;
    this.#moves++;
    addAt(round.movesOut, owner, 1);
    addAt(round.movesIn, to, 1);
    round.pendingHandoffs++;
    round.waitFor(round.input.roster.forceAfterMsOf(owner));
  }

  /** Asks live owners to release their surplus to receivers, within the move limits. */
  #requestReleases(surplus: readonly SurplusPartition[]): void {
    const round = this.#round;
    const { roster } = round.input;
    for (const { row, owner } of surplus) {
      if (!this.#mayMove(owner)) continue;
      // A vanished owner cannot be asked: its partitions wait for it, or for its delay to end.
      if (!roster.isLive(owner)) continue;
      const draining = roster.weightOf(owner) === 0;
      if (draining && checked(round.drainInFlight[owner]) >= DRAIN_WAVE) {
        round.drainWaiting = true;
        continue;
      }
      const to = this.#receiverForRelease();
      if (to === -1) continue;
      addAt(round.need, to, -1);
      this.#countMove(owner, to);
      if (draining) addAt(round.drainInFlight, owner, 1);
      const { domain, taskList } = this.#taskList;
      const { partition, generation } = row;
      round.transitions.push({ type: "release", domain, taskList, partition, generation, from: roster.idOf(owner), to: roster.idOf(to) });
    }
  }
}
