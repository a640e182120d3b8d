// This module is browser compatible.

/** A connection as the room sees it, and the user registered on it. */

import type { Timestamp } from "../protocol/messages.ts";

/** Chosen by the transport edge; unique among live connections. */
export type ConnId = number;

/** A registered connection. */
export interface Session {
  readonly id: ConnId;
  /** The name as the user registered it. */
  readonly name: string;
  readonly nameKey: string;
  /** When the name was registered on this connection. */
  readonly connectedAt: Timestamp;
  /** When they last sent a public, private or group message; null if never. */
  readonly lastMessageAt: Timestamp | null;
  /**
   * The fingerprint of the identity key this user proved at registration
   * (the key the name is bound to), shown with their file offers; null
   * until the edge records it.
   */
  readonly fingerprint: string | null;
  /** Why the user is away (`/away`), or null while they are not. */
  readonly away: string | null;
  /**
   * Whether the client acknowledges what it shows (docs/PROTOCOL.md,
   * "Delivery"): its messages then wait until acknowledged, not merely sent.
   */
  readonly acks: boolean;
  /**
   * Set when the sign-in could not send every waiting message: the last id
   * it sent. Acknowledgements on this connection then cover nothing past
   * it, so that a cursor cannot pass over a message that was never shown
   * (those past it come in the next page, or at the next sign-in, maybe
   * twice, never lost); and no live private or group message is sent to it
   * meanwhile (delivery.ts), so that no cursor it sends before the next page
   * arrives covers a message of that page.
   */
  readonly ackCeiling: number | null;
}
