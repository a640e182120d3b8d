/**
 * Name <-> identity key bindings shared by a cluster's nodes (issue 19): a
 * key-value bucket where a name is bound by `create`, which JetStream
 * refuses when the key exists (compare-and-set), so two nodes can never
 * bind one name to two keys. A node's own store keeps its copy (the gate
 * binds it there after the welcome); the bucket's word wins over it when
 * they differ (`chat admin release --cluster` deletes a binding here only).
 */

import { nameKey } from "../../protocol/limits.ts";
import { connectNats, type KV, openBucket } from "./nats.ts";
import { nameBindingKey, NAMES_BUCKET } from "./subjects.ts";

/** Compare-and-set attempts of a release before it is given up. */
const RELEASE_ATTEMPTS = 5;

export class ClusterNames {
  readonly #kv: KV;

  constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Binds the name if free; resolves to the fingerprint it is bound to. */
  async claim(nameKey: string, fingerprint: string): Promise<string> {
    const key = nameBindingKey(nameKey);
    try {
      await this.#kv.create(key, fingerprint);
      return fingerprint;
    } catch (error) {
      // Taken (by this key or another): what it is bound to decides.
      const bound = await this.#kv.get(key);
      if (bound === null || bound.operation !== "PUT") throw error;
      return bound.string();
    }
  }

  /** The fingerprint the name is bound to, or null when it is free. */
  async owner(nameKey: string): Promise<string | null> {
    const bound = await this.#kv.get(nameBindingKey(nameKey));
    return bound === null || bound.operation !== "PUT" ? null : bound.string();
  }

  /**
   * Frees the name: deletes its binding if it is still the one read
   * (compare-and-set, so a key that claims it meanwhile keeps it); resolves
   * to the fingerprint it was bound to, or null when it was free.
   */
  async release(nameKey: string): Promise<string | null> {
    const key = nameBindingKey(nameKey);
    for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt++) {
      const bound = await this.#kv.get(key);
      if (bound === null || bound.operation !== "PUT") return null;
      try {
        await this.#kv.delete(key, { previousSeq: bound.revision });
        return bound.string();
      } catch (error) {
        if (!/wrong last sequence/i.test(messageOf(error))) throw error;
      }
    }
    throw new Error(
      `the name's binding changed ${RELEASE_ATTEMPTS} times while it was released`,
    );
  }
}

/**
 * `chat admin release NAME --cluster URLS`: frees `name` in the cluster's
 * names bucket; resolves to the fingerprint it was bound to, or null.
 */
export async function releaseClusterName(
  urls: readonly string[],
  name: string,
): Promise<string | null> {
  const nc = await connectNats(urls, "chat-admin");
  try {
    const names = new ClusterNames(await openBucket(nc, NAMES_BUCKET, 0));
    return await names.release(nameKey(name));
  } finally {
    await nc.close();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
