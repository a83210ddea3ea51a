// How long a member's statements may wait for an answer, from the time left before it must stop
// (`leftMs`; null while it has no deadline: joining, or fenced). A member fences itself only when
// it cannot get an answer in time, never because an answer is slow: its statements wait as long as
// the deadline allows.

/**
 * How long a heartbeat may go unanswered before its connection is given up: the time left, less
 * half a statement timeout (enough for one sent again on a fresh connection, after one lost on a
 * black-holed connection), and never less than a statement timeout: a heartbeat that waits for a
 * busy database, or for a round that holds its row, waits as long as it can.
 */
export function heartbeatBoundMs(leftMs: number | null, statementTimeoutMs: number): number {
  return leftMs === null ? statementTimeoutMs : Math.max(statementTimeoutMs, leftMs - statementTimeoutMs / 2);
}

/**
 * How long a read of the member's partitions may take: all the time left (a read that answers in
 * time, however slowly, moves the deadline; one that cannot, cannot); without a deadline, the
 * statement timeout.
 */
export function readBoundMs(leftMs: number | null, statementTimeoutMs: number): number {
  return leftMs === null ? statementTimeoutMs : Math.max(1, leftMs);
}
