// This module is browser compatible.

/**
 * The bytes queued for all the connections of one address group together,
 * held to a budget: past it, the connection with the most queued goes (the
 * caller dismisses it as not reading). Without it, every connection an
 * address may hold multiplies the per-connection backlog limit.
 *
 * Summing a group costs a pass over its connections, too much for every
 * delivery of a fan-out: the group is summed only when one connection's
 * backlog crosses another step up (`crossed`). Between two checks each
 * connection grows by less than a step, so a group can pass its budget by
 * at most one step per connection before it is seen.
 */
export class GroupBacklog<Id> {
  readonly #members = new Map<string, Set<Id>>();
  readonly #groupOf = new Map<Id, string>();
  /** The step each connection's backlog was at when last seen (0: none). */
  readonly #steps = new Map<Id, number>();

  /**
   * `maxBytes` per group (0: no budget, nothing is tracked); `stepBytes`
   * how much a connection's backlog grows between two checks of its group.
   */
  constructor(readonly maxBytes: number, readonly stepBytes: number) {
    if (!(stepBytes > 0)) throw new RangeError("The step must be positive");
  }

  /** Connections tracked now. */
  get size(): number {
    return this.#groupOf.size;
  }

  add(id: Id, group: string): void {
    if (this.maxBytes === 0) return;
    this.remove(id);
    let members = this.#members.get(group);
    if (members === undefined) this.#members.set(group, members = new Set());
    members.add(id);
    this.#groupOf.set(id, group);
  }

  remove(id: Id): void {
    const group = this.#groupOf.get(id);
    if (group === undefined) return;
    this.#groupOf.delete(id);
    this.#steps.delete(id);
    const members = this.#members.get(group);
    members?.delete(id);
    if (members?.size === 0) this.#members.delete(group);
  }

  /**
   * Whether `id`'s group must be summed now, told `id`'s backlog (an
   * estimate will do) after something was queued for it: true when it
   * crossed a step it had not reached since it last drained below it.
   */
  crossed(id: Id, backlog: number): boolean {
    if (this.maxBytes === 0) return false;
    const step = Math.floor(backlog / this.stepBytes);
    // Below the first step nothing is recorded: most connections, most of
    // the time, cost one division here.
    if (step === 0) return false;
    const last = this.#steps.get(id) ?? 0;
    if (step === last || !this.#groupOf.has(id)) return false;
    this.#steps.set(id, step);
    return step > last;
  }

  /**
   * Sums `id`'s group with `backlogOf` (the exact figure); if it passes the
   * budget, the member with the most queued and the sum, else null.
   */
  over(
    id: Id,
    backlogOf: (member: Id) => number,
  ): { largest: Id; total: number } | null {
    const group = this.#groupOf.get(id);
    const members = group === undefined ? undefined : this.#members.get(group);
    if (members === undefined) return null;
    let total = 0;
    let largest = id;
    let most = -1;
    for (const member of members) {
      const bytes = backlogOf(member);
      total += bytes;
      if (bytes > most) [largest, most] = [member, bytes];
    }
    return total > this.maxBytes ? { largest, total } : null;
  }
}
