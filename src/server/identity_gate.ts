/**
 * Proof of identity at registration. A name is bound to the first identity key
 * that proves possession of it (trust on first use); later registrations must
 * prove possession of the same key by signing a fresh challenge bound to this
 * session's handshake transcript, so a proof cannot be replayed or relayed.
 */

import { fromBase64, randomBytes, toBase64 } from "../crypto/bytes.ts";
import {
  IDENTITY_CHALLENGE_BYTES,
  IDENTITY_PROOF_VERSION,
  IDENTITY_PUBLIC_KEY_BYTES,
  identityChallengeMessage,
  identityFingerprint,
  identityKeyProblem,
  legacyIdentityChallengeMessage,
  unusableIdentityKeys,
  verifyChallenge,
} from "../crypto/identity.ts";
import { isValidName, nameKey } from "../protocol/limits.ts";
import type { ClientMessage, ServerMessage } from "../protocol/messages.ts";
import type { KeyCut, Store } from "../store/store.ts";
import { SkeletonIndex } from "./skeleton_index.ts";
import type { NameBinding } from "./cluster/name_binding.ts";

/**
 * The names bound to a key nobody can sign in with any more (bound before
 * small-order and non-canonical keys were refused): a proof for such a key
 * could be forged, so the gate refuses it, and the name stays bound and
 * unprovable until the operator releases it.
 */
export async function unprovableNames<
  T extends { readonly name: string; readonly fingerprint: string | null },
>(users: readonly T[]): Promise<T[]> {
  const unusable = new Set(
    await Promise.all(unusableIdentityKeys().map(identityFingerprint)),
  );
  return users.filter((user) =>
    user.fingerprint !== null && unusable.has(user.fingerprint)
  );
}

/** A name that looks like another, and the identity key that holds it. */
export interface NameHolder {
  /** As its owner last signed in with it. */
  readonly name: string;
  readonly fingerprint: string;
}

/** What the bindings beyond this process (a cluster's) say of a name claimed there. */
export type NameClaim =
  /**
   * Bound to the key `fingerprint`: the claimant's, or another's; `cut`
   * when that key took the name over from an earlier one (a release), and
   * `made` when this claim made that binding.
   */
  | { kind: "bound"; fingerprint: string; cut?: KeyCut; made?: boolean }
  /** Refused: it looks like `name`, another key's. */
  | { kind: "lookalike"; name: string }
  /** Refused: it is or looks like the name of the group `name`. */
  | { kind: "group"; name: string };

/** Where name -> identity bindings are kept (the store, or memory). */
export interface IdentityBindings {
  fingerprintOf(nameKey: string): string | null;
  /**
   * The name as it was bound (its holder's spelling), or null if it is not
   * bound or not known here. Optional: only to say that names ignore case.
   */
  nameOf?(nameKey: string): string | null;
  /**
   * The names that look like `name` (the same skeleton,
   * protocol/name_skeleton.ts; `name` itself left out) that are bound to an
   * identity key or signed in under one, each with that key. Found through
   * an index, not by reading every name.
   */
  lookalikes(name: string): NameHolder[];
  /** Binds only if the name has no key yet. */
  bind(name: string, nameKey: string, fingerprint: string): void;
  /**
   * Where names are bound beyond this process too (a cluster's nodes,
   * issue 19): binds the name to `fingerprint` there if it is free
   * (compare-and-set) and no name like it is another key's or a group's
   * there, and resolves to what it is. Asked once a proof verified, before
   * the name is accepted.
   */
  claim?(
    name: string,
    nameKey: string,
    fingerprint: string,
  ): Promise<NameClaim>;
  /**
   * Where `claim` binds: the key the name is bound to there (null: free),
   * made this process's copy too. Asked only when this process's copy names
   * another key than the one signing in: the copy may predate a release
   * made elsewhere (`chat admin release --cluster`).
   */
  recheck?(name: string, nameKey: string): Promise<string | null>;
  /**
   * Where `claim` binds says `nameKey` is bound to `binding` now (a
   * cluster's names bucket, watched): this process's copy follows if it
   * binds the name to another key. A copy that binds it to none waits for
   * the name's sign-in here, which cuts (GateResult `cut`).
   */
  boundElsewhere?(nameKey: string, binding: NameBinding): Promise<void>;
}

/** A registration waiting for its proof. */
interface Pending {
  register: Extract<ClientMessage, { t: "register" }>;
  publicRaw: Uint8Array;
  fingerprint: string;
  nonce: Uint8Array;
}

export type GateResult =
  /** Send this to the client and wait for its next message. */
  | { kind: "reply"; message: ServerMessage }
  /**
   * Hand this register message to the router; `fingerprint` is the proven key
   * (null for a name the router will refuse anyway).
   */
  | {
    kind: "proven";
    register: Extract<ClientMessage, { t: "register" }>;
    fingerprint: string | null;
    /**
     * Where the name's history starts for this key, by the bindings
     * beyond this process (a cluster's): to be cut here before the
     * registration hands it anything (Store.cutOldKeys).
     */
    cut?: KeyCut;
    /**
     * This sign-in's claim made the binding of `cut`: the old key's
     * memberships are cut here too, and the groups bucket follows.
     */
    cutGroups?: boolean;
  };

export class IdentityGate {
  #pending: Pending | null = null;

  constructor(
    readonly bindings: IdentityBindings,
    readonly transcriptHash: Uint8Array,
    /**
     * The name of the group `name` is (ignoring case) or looks like, or
     * null (state.ts groupNameLike): a new user name must not be a group's.
     */
    readonly groupNameLike: (name: string) => string | null = () => null,
  ) {}

  /** Step 1: a register message. Refuses a key that does not own the name. */
  async begin(
    register: Extract<ClientMessage, { t: "register" }>,
  ): Promise<GateResult> {
    const re = register.id;
    // Invalid names are the router's to refuse, with its wording.
    if (!isValidName(register.name)) {
      return { kind: "proven", register, fingerprint: null };
    }
    let publicRaw: Uint8Array;
    try {
      publicRaw = fromBase64(register.key);
    } catch {
      return refuse(re, "ERROR: Bad identity key");
    }
    if (publicRaw.byteLength !== IDENTITY_PUBLIC_KEY_BYTES) {
      return refuse(re, "ERROR: Bad identity key");
    }
    // Before anything is bound or signed: a proof for such a key can be
    // forged without its private key.
    const problem = identityKeyProblem(publicRaw);
    if (problem !== null) {
      return refuse(re, `ERROR: Bad identity key: ${problem}`);
    }
    const fingerprint = await identityFingerprint(publicRaw);
    const key = nameKey(register.name);
    let bound = this.bindings.fingerprintOf(key);
    if (
      bound !== null && bound !== fingerprint &&
      this.bindings.recheck !== undefined
    ) {
      try {
        bound = await this.bindings.recheck(register.name, key);
      } catch {
        return unreachableElsewhere(re);
      }
    }
    if (bound !== null && bound !== fingerprint) {
      return refuse(
        re,
        `${
          boundRefusal(register.name, bound, this.bindings.nameOf?.(key))
        }; yours is ${fingerprint}. If you lost your key, ask the server's operator to release the name`,
      );
    }
    // Only a name this key does not hold yet: a key keeps what it has.
    if (bound === null) {
      const refused = this.#newNameRefusal(re, register.name, fingerprint);
      if (refused !== null) return refused;
    }
    const nonce = randomBytes(IDENTITY_CHALLENGE_BYTES);
    this.#pending = { register, publicRaw, fingerprint, nonce };
    return {
      kind: "reply",
      message: {
        t: "challenge",
        re,
        nonce: toBase64(nonce),
        proof: IDENTITY_PROOF_VERSION,
      },
    };
  }

  /** Step 2: the signature. On success the name is bound to the key if it was free. */
  async prove(
    prove: Extract<ClientMessage, { t: "prove" }>,
  ): Promise<GateResult> {
    const pending = this.#pending;
    this.#pending = null;
    if (pending === null) {
      return refuse(prove.id, "ERROR: Nothing to prove: register first");
    }
    let signature: Uint8Array;
    try {
      signature = fromBase64(prove.signature);
    } catch {
      signature = new Uint8Array(0);
    }
    const fields = {
      transcriptHash: this.transcriptHash,
      challenge: pending.nonce,
      name: pending.register.name,
    };
    const message = identityChallengeMessage({
      publicKey: pending.publicRaw,
      ...fields,
    });
    if (!await verifyChallenge(pending.publicRaw, message, signature)) {
      // Only to choose the error text: a client from before the key was
      // signed gets told to update rather than that its proof is wrong.
      const legacy = legacyIdentityChallengeMessage(fields);
      if (await verifyChallenge(pending.publicRaw, legacy, signature)) {
        return refuse(prove.id, OUTDATED_CLIENT);
      }
      return refuse(prove.id, "ERROR: The identity proof did not verify");
    }
    const key = nameKey(pending.register.name);
    // Checked again: another connection may have bound the name meanwhile.
    const bound = this.bindings.fingerprintOf(key);
    if (bound !== null && bound !== pending.fingerprint) {
      return refuse(
        prove.id,
        boundRefusal(
          pending.register.name,
          bound,
          this.bindings.nameOf?.(key),
        ),
      );
    }
    // Again too, before the cluster binds the name to this key.
    if (bound === null) {
      const refused = this.#newNameRefusal(
        prove.id,
        pending.register.name,
        pending.fingerprint,
      );
      if (refused !== null) return refused;
    }
    let cut: KeyCut | undefined;
    let cutGroups = false;
    if (this.bindings.claim !== undefined) {
      let claim: NameClaim;
      try {
        claim = await this.bindings.claim(
          pending.register.name,
          key,
          pending.fingerprint,
        );
      } catch {
        return unreachableElsewhere(prove.id);
      }
      const refused = claimRefusal(
        prove.id,
        pending.register.name,
        pending.fingerprint,
        claim,
      );
      if (refused !== null) return refused;
      if (claim.kind === "bound") {
        cut = claim.cut;
        cutGroups = claim.made === true;
      }
    }
    return {
      kind: "proven",
      register: { ...pending.register, id: prove.id },
      fingerprint: pending.fingerprint,
      ...(cut === undefined ? {} : { cut, cutGroups }),
    };
  }

  /**
   * The refusal for a proven sign-in whose name another key has bound since
   * its proof was checked (two keys claiming a free name at once: both
   * proofs pass before either binds it), or null. To be called with nothing
   * awaited between it and the registration.
   */
  recheck(
    proven: Extract<GateResult, { kind: "proven" }>,
  ): Extract<GateResult, { kind: "reply" }> | null {
    if (proven.fingerprint === null) return null;
    const bound = this.bindings.fingerprintOf(nameKey(proven.register.name));
    if (bound === null) {
      // Two keys proving look-alikes at once (`alice` and `a1ice`) both
      // passed `begin`; the first to register binds, the second stops here.
      // So does a name a group was created with (or like) meanwhile.
      return this.#newNameRefusal(
        proven.register.id,
        proven.register.name,
        proven.fingerprint,
      );
    }
    if (bound === proven.fingerprint) return null;
    return refuse(
      proven.register.id,
      boundRefusal(
        proven.register.name,
        bound,
        this.bindings.nameOf?.(nameKey(proven.register.name)),
      ),
    );
  }

  /**
   * The refusal of a new binding of `name` to `fingerprint`, or null: when
   * it is or looks like a group's name (people and groups share one
   * namespace for new names), or looks like another key's name. Never asked
   * for a name the key already holds: a user whose name was bound before
   * this rule keeps it even if a group is called so, and signs in as before.
   */
  #newNameRefusal(
    re: number,
    name: string,
    fingerprint: string,
  ): Extract<GateResult, { kind: "reply" }> | null {
    const group = this.groupNameLike(name);
    if (group !== null) return groupRefusal(re, name, group);
    return this.#lookalikeRefusal(re, name, fingerprint);
  }

  /**
   * The refusal of a new binding of `name` to `fingerprint` when a name that
   * looks like it is another key's (bound, or signed in under it), or null.
   * Never asked for a name the key already holds: bindings made before this
   * rule (a server upgraded with `alice` and `a1ice` bound to two keys) are
   * kept, and both owners go on signing in with them.
   */
  #lookalikeRefusal(
    re: number,
    name: string,
    fingerprint: string,
  ): Extract<GateResult, { kind: "reply" }> | null {
    const other = this.bindings.lookalikes(name).find((holder) =>
      holder.fingerprint !== fingerprint
    );
    if (other === undefined) return null;
    return refuse(re, lookalikeRefusal(name, other.name));
  }

  /** After the router accepted the name: bind it on first use. */
  bindIfFree(name: string, fingerprint: string): void {
    const key = nameKey(name);
    if (this.bindings.fingerprintOf(key) === null) {
      this.bindings.bind(name, key, fingerprint);
    }
  }
}

/**
 * The refusal of `name` to `fingerprint` by what the bindings elsewhere
 * said (a cluster's: a name bound, or one like it, on another node where
 * its owner may be offline), or null when it is the key's.
 */
function claimRefusal(
  re: number,
  name: string,
  fingerprint: string,
  claim: NameClaim,
): Extract<GateResult, { kind: "reply" }> | null {
  switch (claim.kind) {
    case "bound":
      return claim.fingerprint === fingerprint ? null : refuse(
        re,
        boundRefusal(name, claim.fingerprint),
      );
    case "lookalike":
      return refuse(re, lookalikeRefusal(name, claim.name));
    case "group":
      return groupRefusal(re, name, claim.name);
    default: {
      const never: never = claim;
      throw new Error(`unknown claim ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Why `name` is refused: another key (`bound`) holds it, as `heldAs` when
 * known. Names ignore case, so a name typed in other capitals is said to be
 * the holder's, in its spelling (docs/PROTOCOL.md 5.3, texts A and B).
 */
export function boundRefusal(
  name: string,
  bound: string,
  heldAs?: string | null,
): string {
  const spelling = heldAs === undefined || heldAs === null || heldAs === name
    ? ""
    : `, as '${heldAs}' (names ignore case)`;
  return `ERROR: The name '${name}' belongs to another identity key (${bound})${spelling}`;
}

/** The `identity` error for a proof in the first format (without the key). */
export const OUTDATED_CLIENT =
  "ERROR: Your chat client is out of date: its identity proof does not include the key, which this server requires. Update chat and connect again";

/**
 * Why a name that looks like another key's is refused (docs/PROTOCOL.md 8,
 * "Look-alike names").
 */
export function lookalikeRefusal(name: string, lookalike: string): string {
  return `ERROR: The name '${name}' looks like '${lookalike}', which belongs to another identity key; choose another name`;
}

/**
 * Why a new user name is refused that is, or looks like, the name of the
 * group `group` (docs/PROTOCOL.md 8, "One namespace").
 */
export function groupNameUserRefusal(name: string, group: string): string {
  return nameKey(name) === nameKey(group)
    ? `ERROR: '${name}' is the name of a group; choose another name`
    : `ERROR: '${name}' looks like '${group}', the name of a group; choose another name`;
}

/** The refusal of a new user name that is or looks like the group `group`'s. */
function groupRefusal(
  re: number,
  name: string,
  group: string,
): Extract<GateResult, { kind: "reply" }> {
  return {
    kind: "reply",
    message: {
      t: "error",
      re,
      code: "group_exists",
      text: groupNameUserRefusal(name, group),
    },
  };
}

function refuse(
  re: number,
  text: string,
): Extract<GateResult, { kind: "reply" }> {
  return { kind: "reply", message: { t: "error", re, code: "identity", text } };
}

/** Bindings kept in memory, for servers run with no store. */
export class MemoryBindings implements IdentityBindings {
  #bound = new Map<string, NameHolder>();
  #similar = new SkeletonIndex();
  fingerprintOf(nameKey: string): string | null {
    return this.#bound.get(nameKey)?.fingerprint ?? null;
  }
  nameOf(nameKey: string): string | null {
    return this.#bound.get(nameKey)?.name ?? null;
  }
  lookalikes(name: string): NameHolder[] {
    return this.#similar.keysLike(name).flatMap((key) =>
      this.#bound.get(key) ?? []
    );
  }
  bind(name: string, nameKey: string, fingerprint: string): void {
    if (this.#bound.has(nameKey)) return;
    this.#bound.set(nameKey, { name, fingerprint });
    this.#similar.add(nameKey);
  }
}

/** The name could not be checked with the other nodes of a cluster. */
export function unreachableElsewhere(
  re: number,
): Extract<GateResult, { kind: "reply" }> {
  // Which node failed and why is the cluster's log's to say.
  return {
    kind: "reply",
    message: {
      t: "error",
      re,
      code: "internal",
      text:
        "ERROR: The server could not check that name with its other nodes; try again",
    },
  };
}

/** Bindings kept in the store, so a name stays its owner's across restarts. */
export class StoreBindings implements IdentityBindings {
  /**
   * Every name bound to a key when this process started or since, by
   * skeleton. Never shrunk: a name released since (here, or by `chat admin
   * release` on the database meanwhile) is found and then passed over, as
   * its binding is read from the store each time.
   */
  readonly #similar = new SkeletonIndex();

  constructor(
    readonly store: Store,
    readonly now: () => number = Date.now,
    /**
     * Who is signed in under this name key here, if anyone: a name whose
     * binding an operator released while its owner stayed signed in is no
     * longer bound, but still shown beside that owner's messages.
     */
    readonly signedIn: (nameKey: string) => NameHolder | null = () => null,
  ) {
    // One pass over the users at the start, none per sign-in.
    for (const user of store.listUsers()) {
      if (user.fingerprint !== null) this.#similar.add(user.nameKey);
    }
  }
  fingerprintOf(nameKey: string): string | null {
    return this.store.getUser(nameKey)?.fingerprint ?? null;
  }
  nameOf(nameKey: string): string | null {
    const user = this.store.getUser(nameKey);
    return user === undefined || user.fingerprint === null ? null : user.name;
  }
  lookalikes(name: string): NameHolder[] {
    return this.#similar.keysLike(name).flatMap((key) => {
      const holders: NameHolder[] = [];
      const user = this.store.getUser(key);
      if (user !== undefined && user.fingerprint !== null) {
        holders.push({ name: user.name, fingerprint: user.fingerprint });
      }
      const online = this.signedIn(key);
      if (online !== null) holders.push(online);
      return holders;
    });
  }
  /**
   * Makes this store's binding `cut.fingerprint`, what it held for the
   * name up to the cut left behind (Store.cutOldKeys).
   */
  follow(name: string, nameKey: string, cut: KeyCut): void {
    this.store.transaction(() => {
      // Memberships follow the groups bucket here (Store.cutOldKeys).
      this.store.cutOldKeys(nameKey, cut, this.now(), false);
      this.bind(name, nameKey, cut.fingerprint);
    });
  }
  /** Makes this store's binding `fingerprint` (null: none). */
  set(name: string, nameKey: string, fingerprint: string | null): void {
    this.store.transaction(() => {
      this.store.releaseName(nameKey, this.now());
      if (fingerprint !== null) this.bind(name, nameKey, fingerprint);
    });
  }
  bind(name: string, nameKey: string, fingerprint: string): void {
    this.store.transaction(() => {
      this.store.ensureUser(name, nameKey, this.now());
      if (this.store.bindFingerprint(nameKey, fingerprint) !== "bound") return;
      // Prekeys of another key, left by a release made before releases
      // deleted them: not the new owner's, never to be handed out for them.
      const held = this.store.prekeysFingerprint(nameKey);
      if (held !== undefined && held !== fingerprint) {
        this.store.putPrekeys(nameKey, null);
      }
    });
    this.#similar.add(nameKey);
  }
}
