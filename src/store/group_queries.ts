/**
 * The store's groups and their membership: who is in each now, and the
 * periods each member was in it, which decide what group history they see.
 */

import type { GroupRecord, MemberRecord, MembershipPeriod } from "./store.ts";
import type { Timestamp } from "../protocol/messages.ts";
import { integer, integerOrNull, text, toGroup } from "./rows.ts";
import type { Transactions } from "./transactions.ts";

/** Periods of membership kept per user and group, the newest. */
export const MEMBERSHIP_PERIODS_KEPT = 16;

const GROUP_SELECT =
  "SELECT group_key, name, created_by, created_at FROM groups";

export class GroupQueries {
  readonly #tx: Transactions;

  constructor(tx: Transactions) {
    this.#tx = tx;
  }

  getGroup(key: string): GroupRecord | undefined {
    const row = this.#tx.get(`${GROUP_SELECT} WHERE group_key = ?`, key);
    return row === undefined ? undefined : toGroup(row);
  }

  listGroups(): GroupRecord[] {
    return this.#tx.all(`${GROUP_SELECT} ORDER BY id`).map(toGroup);
  }

  createGroup(
    name: string,
    key: string,
    createdBy: string,
    at: Timestamp,
  ): GroupRecord {
    return this.#tx.transaction(() => {
      if (this.getGroup(key) !== undefined) {
        throw new Error(`Group ${key} already exists`);
      }
      this.#tx.run(
        `INSERT INTO groups (group_key, name, created_by, created_at)
         VALUES (?, ?, ?, ?)`,
        key,
        name,
        createdBy,
        at,
      );
      return { name, key, createdBy, createdAt: at };
    });
  }

  addMember(
    groupKey: string,
    userKey: string,
    userName: string,
    at: Timestamp,
  ): boolean {
    // The unique index on current periods makes a second join a no-op.
    return this.#tx.run(
      `INSERT INTO memberships (group_key, user_key, user_name, joined_at)
       VALUES (?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
      groupKey,
      userKey,
      userName,
      at,
    ) > 0;
  }

  /**
   * Ends every current membership of the user (a released name: the groups
   * were its old key's); returns the groups' names, in creation order.
   */
  leaveAll(userKey: string, at: Timestamp): string[] {
    const groups = this.groupsOf(userKey);
    for (const group of groups) this.removeMember(group.key, userKey, at);
    return groups.map((group) => group.name);
  }

  /**
   * Ends the user's current memberships that began at or before `since`
   * (a cluster's cut of a released name: the ones begun later are the new
   * key's); returns the groups' names, in creation order.
   */
  leaveJoinedBy(userKey: string, since: Timestamp, at: Timestamp): string[] {
    const groups = this.#tx.all(
      `SELECT g.group_key, g.name FROM memberships m
       JOIN groups g ON g.group_key = m.group_key
       WHERE m.user_key = ? AND m.left_at IS NULL AND m.joined_at <= ?
       ORDER BY g.id`,
      userKey,
      since,
    ).map((row) => ({ key: text(row, "group_key"), name: text(row, "name") }));
    for (const group of groups) this.removeMember(group.key, userKey, at);
    return groups.map((group) => group.name);
  }

  removeMember(groupKey: string, userKey: string, at: Timestamp): boolean {
    const left = this.#tx.run(
      `UPDATE memberships SET left_at = ?
       WHERE group_key = ? AND user_key = ? AND left_at IS NULL`,
      at,
      groupKey,
      userKey,
    ) > 0;
    // Only the newest periods are kept: joining and leaving in a loop would
    // otherwise add rows without end, which the store's cap then takes back
    // from the messages.
    if (left) {
      this.#tx.run(
        `DELETE FROM memberships
         WHERE group_key = ? AND user_key = ? AND id IN (
           SELECT id FROM memberships WHERE group_key = ? AND user_key = ?
           ORDER BY id DESC LIMIT -1 OFFSET ?)`,
        groupKey,
        userKey,
        groupKey,
        userKey,
        MEMBERSHIP_PERIODS_KEPT,
      );
    }
    return left;
  }

  members(groupKey: string): MemberRecord[] {
    return this.#tx.all(
      `SELECT user_key, user_name, joined_at FROM memberships
       WHERE group_key = ? AND left_at IS NULL
       ORDER BY id`,
      groupKey,
    ).map((row) => ({
      userKey: text(row, "user_key"),
      userName: text(row, "user_name"),
      joinedAt: integer(row, "joined_at"),
    }));
  }

  groupsOf(userKey: string): GroupRecord[] {
    return this.#tx.all(
      `SELECT g.group_key, g.name, g.created_by, g.created_at
       FROM memberships m JOIN groups g ON g.group_key = m.group_key
       WHERE m.user_key = ? AND m.left_at IS NULL
       ORDER BY g.id`,
      userKey,
    ).map(toGroup);
  }

  membershipPeriods(groupKey: string, userKey: string): MembershipPeriod[] {
    return this.#tx.all(
      `SELECT joined_at, left_at FROM memberships
       WHERE group_key = ? AND user_key = ?
       ORDER BY id`,
      groupKey,
      userKey,
    ).map((row) => ({
      joinedAt: integer(row, "joined_at"),
      leftAt: integerOrNull(row, "left_at"),
    }));
  }
}
