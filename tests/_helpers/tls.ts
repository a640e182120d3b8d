/** The test's TLS certificate, and a real server speaking TLS with it. */

import {
  certificateNames,
  makeCertificate,
  type TlsCredentials,
} from "../../src/server/tls_certificate.ts";
import { startTestServer, type TestServer } from "./chat.ts";

let credentials: Promise<TlsCredentials> | null = null;

/**
 * One self-signed certificate per test process, for localhost, 127.0.0.1 and
 * ::1, as `chat serve` makes it for browsers: nothing on the machine trusts
 * it, so a client trusts it only when the test says so (`caCerts`).
 */
export function testCredentials(): Promise<TlsCredentials> {
  credentials ??= makeCertificate(certificateNames([]), new Date());
  return credentials;
}

/** A test server speaking TLS on its port too (wss://), and what to trust. */
export interface TlsTestServer extends TestServer {
  /** Its wss:// address by name (localhost). */
  wss: string;
  /** Its certificate (PEM), for `caCerts`. */
  cert: string;
}

/** A test server with {@link testCredentials} on its port. */
export async function startTlsServer(
  options: Parameters<typeof startTestServer>[0] = {},
): Promise<TlsTestServer> {
  const tls = await testCredentials();
  const server = await startTestServer({ ...options, tls });
  return Object.assign(server, {
    wss: `wss://localhost:${server.port}`,
    cert: tls.cert,
  });
}
