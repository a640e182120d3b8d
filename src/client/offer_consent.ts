/**
 * Whether a file offered to the user is taken: declined unseen from someone
 * ignored, taken or declined as --accept-files and the senders trusted say,
 * or asked about (a person, one offer at a time; a program, with an offer
 * event it answers with a command).
 *
 * @module
 */

import type { FileOfferNotice } from "../protocol/messages.ts";
import { messageOf } from "../transport/secure_channel.ts";
import { sanitizeForTerminal } from "../text/sanitize.ts";
import { type AcceptPolicy, decideOffer, senderKey } from "./consent.ts";
import type { ConsentAnswer } from "./file_receiver.ts";
import { OfferAnswers } from "./offer_answers.ts";
import { OfferPrompts } from "./offer_prompts.ts";
import type { SessionEvent } from "./session_events.ts";
import type { Terminal } from "./terminal.ts";
import type { TrustedSenders } from "./trusted_senders.ts";

export interface OfferConsentOptions {
  terminal: Terminal;
  files: { accept: AcceptPolicy; trusted: TrustedSenders };
  /** `--json`: offers are answered with commands, not y / n / a. */
  json: boolean;
  emit: (event: SessionEvent) => void;
  /** Whether the user ignores `name` (or its identity key, when known). */
  isIgnored: (name: string, key: string | null) => boolean;
  /** The identity key /list gave for `name`, if any. */
  keyOf: (name: string) => string | null;
}

/** What decides on offers, and the questions waiting for an answer. */
export type OfferConsent = ReturnType<typeof offerConsent>;

export function offerConsent(options: OfferConsentOptions) {
  const { terminal, files, json, emit, isIgnored, keyOf } = options;
  const prompts = new OfferPrompts((line) => terminal.print(line), {
    onWaiting: (row) => terminal.setWaiting(row),
  });
  const answers = new OfferAnswers();
  // `server`: the key this connection verified; trust is per server key, so
  // a new server at the same address does not inherit it.
  const ignored = (offer: FileOfferNotice) =>
    isIgnored(offer.from, senderKey(offer) ?? keyOf(offer.from));
  const trustedSender = (offer: FileOfferNotice, server: string) =>
    senderKey(offer) !== null && files.trusted.has(server, senderKey(offer)!);
  /** Whether `consent` declines `offer` whatever the file (no key needed). */
  const declines = (offer: FileOfferNotice, server: string) =>
    ignored(offer) ||
    decideOffer(offer, files.accept, trustedSender(offer, server)).kind ===
      "decline";
  const consent = async (
    offer: FileOfferNotice,
    server: string,
    named: boolean,
  ): Promise<ConsentAnswer> => {
    // An ignored user's offers are declined unseen, as their messages are.
    if (ignored(offer)) return "decline";
    const decision = decideOffer(
      offer,
      files.accept,
      trustedSender(offer, server),
      named,
    );
    if (json) {
      emit({ type: "file_offer", offer, decision: decision.kind });
    }
    switch (decision.kind) {
      case "accept":
        if (decision.note !== null) terminal.print(decision.note);
        return "accept";
      case "decline":
        terminal.print(decision.note);
        return "decline";
      case "ask":
        break;
    }
    if (json) {
      const outcome = await answers.wait(offer);
      switch (outcome) {
        case "accept":
          return "accept";
        case "timeout":
          return "no_answer";
        case "decline":
        case "withdrawn":
          return "decline";
      }
    }
    const outcome = await prompts.ask(offer);
    switch (outcome) {
      case "yes":
        return "accept_asked";
      case "always":
        try {
          await files.trusted.add(server, senderKey(offer)!, offer.from);
          terminal.print(
            `From now on files from ${sanitizeForTerminal(offer.from)}'s key ${
              senderKey(offer)
            } are accepted without asking (${
              files.trusted.path === null
                ? "for this session: there is no config folder"
                : `remembered in ${files.trusted.path}`
            })`,
          );
        } catch (error) {
          terminal.printError(`ERROR: ${messageOf(error)}`);
        }
        return "accept_asked";
      case "timeout":
        return "no_answer";
      case "no":
      case "withdrawn":
      case "busy":
        return "decline";
    }
  };

  return { prompts, answers, declines, consent };
}
