/**
 * `create` on a node of a cluster: the new group's name is claimed across
 * the cluster (cluster/names.ts, by its skeleton) before the router makes
 * the group, so that a group is not named like a user bound on another node
 * while offline there, nor like another creator's group made on another
 * node a moment ago, and a user and a group racing for one name on two
 * nodes do not both get it. The router's own checks follow as on one node.
 * While the other nodes cannot be reached, no group is made.
 */

import { isValidName } from "../protocol/limits.ts";
import type { ClientMessage } from "../protocol/messages.ts";
import type { ClusterPort } from "./cluster/port.ts";
import { fail, type Outbound } from "./outbound.ts";
import { lookalikeGroupRefusal, userNameGroupRefusal } from "./router.ts";
import type { Session } from "./session.ts";
import type { ServerState } from "./state.ts";

/** The refusal of a `create` whose name the other nodes could not check. */
export const GROUP_UNCHECKED_TEXT =
  "ERROR: The server could not check that group name with its other nodes; try again";

export type GroupClaimOutcome =
  /** Route the `create`; `added`: the claim to drop if no group comes of it. */
  | { kind: "route"; added: boolean }
  /** Send this instead. */
  | { kind: "refused"; out: Outbound[] };

/** Whether a `create` needs the cluster's word before it is routed. */
export function needsGroupClaim(
  state: ServerState,
  message: ClientMessage,
): message is Extract<ClientMessage, { t: "create" }> {
  // An invalid name or an existing group: the router refuses it as on one
  // node, with nothing to claim.
  return message.t === "create" && isValidName(message.group) &&
    state.group(message.group) === undefined;
}

/** Claims the group's name for `session`, the creator. */
export async function claimGroupName(
  cluster: Pick<ClusterPort, "claimGroupName">,
  session: Session,
  message: Extract<ClientMessage, { t: "create" }>,
  log: (line: string) => void,
): Promise<GroupClaimOutcome> {
  const { id: re, group } = message;
  let claim;
  try {
    claim = await cluster.claimGroupName(group, session.name);
  } catch (error) {
    // NATS away: not made, as no one signs in then either
    // (identity_gate.ts). Made on this node alone, it could take a name
    // claimed meanwhile on another (a look-alike, a user's) for good.
    log(`cluster: cannot claim group name ${group}: ${messageOf(error)}`);
    return refused(fail(session.id, re, "internal", GROUP_UNCHECKED_TEXT));
  }
  switch (claim.kind) {
    case "claimed":
      return { kind: "route", added: claim.added };
    case "user":
      return refused(
        fail(
          session.id,
          re,
          "name_taken",
          userNameGroupRefusal(group, claim.name),
        ),
      );
    case "group":
      return refused(
        fail(
          session.id,
          re,
          "group_exists",
          lookalikeGroupRefusal(group, claim.name),
        ),
      );
    default: {
      const never: never = claim;
      throw new Error(`unknown group claim ${JSON.stringify(never)}`);
    }
  }
}

function refused(out: Outbound[]): GroupClaimOutcome {
  return { kind: "refused", out };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
