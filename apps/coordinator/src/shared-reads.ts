/**
 * Wraps a read so that callers asking for the same key share one: the read in flight (however
 * long it takes, so reads of a key never overlap) and then its answer for `intervalMs` after it
 * started. A failed read is given to the callers that shared it and forgotten, so the next caller
 * reads again rather than getting a stale failure. Each key's latest answer is kept, so keys must be
 * few (the service's clusters).
 * @param intervalMs - how long an answer is reused; 0 reads for every call (no sharing at all)
 */
export function sharedReads<K, V>(read: (key: K) => Promise<V>, intervalMs: number): (key: K) => Promise<V> {
  if (intervalMs <= 0) return read;
  const latest = new Map<K, { startedAt: number; settled: boolean; answer: Promise<V> }>();
  return (key) => {
    const now = performance.now();
    const kept = latest.get(key);
    if (kept !== undefined && (!kept.settled || now - kept.startedAt < intervalMs)) return kept.answer;
    const entry = { startedAt: now, settled: false, answer: read(key) };
    latest.set(key, entry);
    entry.answer.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (latest.get(key) === entry) latest.delete(key);
      },
    );
    return entry.answer;
  };
}
