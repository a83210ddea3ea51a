/** One critical section, as logged by a contender: its epoch and database-clock interval. */
export interface Grant {
  epoch: number;
  owner: string;
  startedAt: Date;
  endedAt: Date;
}

/**
 * The violations of mutual exclusion in a log of critical sections: intervals that overlap, and
 * epochs that do not strictly increase in the order the sections started.
 */
export function findViolations(grants: readonly Grant[]): string[] {
  const sorted = [...grants].sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime() || x.epoch - y.epoch);
  const violations: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    if (next.startedAt < prev.endedAt) {
      violations.push(`epoch ${next.epoch} (${next.owner}) started before epoch ${prev.epoch} (${prev.owner}) ended`);
    }
    if (next.epoch <= prev.epoch) {
      violations.push(`epoch ${next.epoch} (${next.owner}) followed epoch ${prev.epoch} (${prev.owner})`);
    }
  }
  return violations;
}
