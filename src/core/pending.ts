/**
 * Work in flight that a forced stop would leave behind, described by whoever holds it (a producer:
 * records not yet acknowledged by Kafka; a stream worker: records not yet checkpointed). The CLI's
 * stop deadline prints these lines, so an operator knows what a second start will redo or resend.
 */
type Describe = () => string | undefined;
const holders = new Set<Describe>();

/** Register a description of pending work; call the returned function once it is settled. */
export const registerPending = (describe: Describe): (() => void) => {
  holders.add(describe);
  return () => {
    holders.delete(describe);
  };
};

/** One line per holder with pending work right now. */
export const describePending = (): string[] => {
  const out: string[] = [];
  for (const d of holders) {
    const line = d();
    if (line !== undefined) out.push(line);
  }
  return out;
};
