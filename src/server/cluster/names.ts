/**
 * Name <-> identity key bindings shared by a cluster's nodes (issue 19): a
 * key-value bucket where a name is bound by `create`, which JetStream
 * refuses when the key exists (compare-and-set), so two nodes can never
 * bind one name to two keys. A node's own store keeps its copy (the gate
 * binds it there after the welcome).
 */

import type { KV } from "./nats.ts";
import { nameBindingKey } from "./subjects.ts";

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
}
