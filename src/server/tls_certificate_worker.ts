/**
 * A worker that finds or makes the web page's TLS certificate
 * (tls_certificate.ts) for `chat serve`, apart from the server: the X.509
 * library and the polyfill it needs stay out of the server's own isolate,
 * where merely loading them made the server hold about 70 MiB more while it
 * relayed a 256 MiB file (tests/e2e/file_memory_test.ts), and the worker's
 * memory goes when it ends.
 *
 * In: {@link CertificateRequest}. Out: {@link CertificateReply}, then it
 * closes itself.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import {
  certificateNames,
  type CertificateOrigin,
  loadOrMakeCertificate,
  type TlsCredentials,
} from "./tls_certificate.ts";

export interface CertificateRequest {
  /** null: keep nothing on disk (`--data :memory:`). */
  dataDir: string | null;
  /** This machine's LAN addresses the certificate must name. */
  addresses: string[];
  now: Date;
}

export type CertificateReply =
  | { kind: "ok"; credentials: TlsCredentials; origin: CertificateOrigin }
  | { kind: "error"; message: string };

self.onmessage = async (event: MessageEvent<CertificateRequest>) => {
  const { dataDir, addresses, now } = event.data;
  let reply: CertificateReply;
  try {
    const found = await loadOrMakeCertificate(
      dataDir,
      certificateNames(addresses),
      now,
    );
    reply = { kind: "ok", ...found };
  } catch (error) {
    reply = {
      kind: "error",
      message: error instanceof Error ? error.message : String(error),
    };
  }
  self.postMessage(reply);
  self.close();
};
