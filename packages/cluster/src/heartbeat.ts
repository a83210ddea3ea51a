import type { HeartbeatSchedule } from "./heartbeat-schedule";
import type { PartitionSync } from "./partition-sync";

/** What a member lends its heartbeat. */
export interface HeartbeatHost {
  /** Whether the member began leaving: a heartbeat then changes nothing. */
  stopped(): boolean;
  /** Whether the member fenced itself and waits for a heartbeat to find it alive. */
  fenced(): boolean;
  /** Sends one heartbeat (`heartbeatMember`): whether the registration is live, and if so its assignment version. */
  send(): Promise<{ alive: false } | { alive: true; assignmentVersion: number }>;
  /** Moves the member's deadline to a TTL after `sentAt` (a `performance.now()`). */
  extendDeadlineFrom(sentAt: number): void;
  /** Active again: as the same incarnation (false), or registered as a new one (true). */
  rejoined(reregistered: boolean): void;
  /** Declared dead (or deregistered): stops every partition and takes a new incarnation. */
  fenceAndRenew(): void;
  /** Registers the member's incarnation. @returns false when a live member holds its node id. */
  register(): Promise<boolean>;
  /** A live member holds the node id: the member stays fenced and tries again at its next heartbeat. */
  nodeIdTaken(): void;
  /** A heartbeat (or what it started) failed: the member tells its listeners. */
  heartbeatFailed(error: Error): void;
}

/**
 * One heartbeat of a member and what it decides: the deadline moves, the member reads its
 * partitions, a fenced member is active again, a member declared dead registers anew.
 *
 * The deadline moves only once the member knows its partitions as of the heartbeat: a release
 * requested before it is then seen and its work stopped, so that forcing the release at (request +
 * TTL) by the database clock is safe. A failed read leaves the deadline as it was.
 */
export async function beatOnce(
  host: HeartbeatHost,
  schedule: Pick<HeartbeatSchedule, "succeeded" | "failed">,
  sync: Pick<PartitionSync, "version" | "sync">,
): Promise<void> {
  if (host.stopped()) return;
  const sentAt = performance.now();
  try {
    const heartbeat = await host.send();
    // A heartbeat answered after leave() began must not revive the member.
    if (host.stopped()) return;
    schedule.succeeded();
    if (heartbeat.alive) {
      if (host.fenced()) {
        // A fenced member owns nothing, so a longer deadline cannot prolong any ownership.
        host.extendDeadlineFrom(sentAt);
        host.rejoined(false);
      }
      if (heartbeat.assignmentVersion !== sync.version) await sync.sync(heartbeat.assignmentVersion);
      host.extendDeadlineFrom(sentAt);
    } else {
      host.fenceAndRenew();
      if (await host.register()) {
        if (host.stopped()) return;
        host.rejoined(true);
        await sync.sync(undefined);
      } else {
        host.nodeIdTaken();
      }
    }
  } catch (error) {
    if (host.stopped()) return;
    schedule.failed();
    host.heartbeatFailed(error as Error);
  }
}
