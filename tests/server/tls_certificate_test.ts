import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { webAddresses, webHint } from "../../src/server/connect_hint.ts";
import {
  CERT_FILE,
  certificateNames,
  KEY_FILE,
  loadOrMakeCertificate,
  makeCertificate,
  renewalReason,
  VALID_DAYS,
} from "../../src/server/tls_certificate.ts";

const DAY = 24 * 3600 * 1000;

Deno.test("certificateNames adds localhost and loopback, unbracketed, once", () => {
  assert.deepEqual(
    certificateNames(["192.168.1.20", "[fd00::5]", "192.168.1.20"]),
    ["localhost", "127.0.0.1", "::1", "192.168.1.20", "fd00::5"],
  );
});

Deno.test("makeCertificate names every address and lasts a year, ECDSA P-256", async () => {
  const now = new Date();
  const made = await makeCertificate(
    certificateNames(["192.168.1.20", "fd00::5"]),
    now,
  );
  // Read back by node's own parser (OpenSSL's view), not ours.
  const cert = new X509Certificate(made.cert);
  assert.equal(
    cert.subjectAltName,
    "DNS:localhost, IP Address:127.0.0.1, IP Address:::1, IP Address:192.168.1.20, IP Address:fd00::5",
  );
  assert.equal(cert.publicKey.asymmetricKeyType, "ec");
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.ok(cert.verify(cert.publicKey), "self-signed with its own key");
  const lifetime = new Date(cert.validTo).getTime() - now.getTime();
  assert.ok(Math.abs(lifetime - VALID_DAYS * DAY) < 2000, `${lifetime}`);
  assert.equal(made.fingerprint, cert.fingerprint256);
  assert.ok(made.key.startsWith("-----BEGIN PRIVATE KEY-----\n"));
});

Deno.test("renewalReason: none when good, expired within a week, addresses changed", async () => {
  const now = new Date();
  const names = certificateNames(["10.0.0.7"]);
  const made = await makeCertificate(names, now);
  assert.equal(renewalReason(made, names, now), null);
  // The same set in another order and spelling is the same.
  assert.equal(
    renewalReason(made, [
      "0:0:0:0:0:0:0:1",
      "10.0.0.7",
      "127.0.0.1",
      "localhost",
    ], now),
    null,
  );
  const late = new Date(now.getTime() + (VALID_DAYS - 3) * DAY);
  assert.match(renewalReason(made, names, late) ?? "", /expires on/);
  assert.equal(
    renewalReason(made, certificateNames(["10.0.0.8"]), now),
    "this machine's addresses changed: now also 10.0.0.8; no longer 10.0.0.7",
  );
});

Deno.test("loadOrMakeCertificate makes 0600 files once, keeps them, remakes when expired or moved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = new Date();
    const names = certificateNames(["10.0.0.7"]);
    const first = await loadOrMakeCertificate(dir, names, now);
    assert.deepEqual(first.origin, { kind: "made", why: "there was none" });
    for (const file of [CERT_FILE, KEY_FILE]) {
      const mode = (await Deno.stat(join(dir, file))).mode! & 0o777;
      assert.equal(mode, 0o600, file);
    }
    const again = await loadOrMakeCertificate(dir, names, now);
    assert.deepEqual(again.origin, { kind: "kept" });
    assert.equal(again.credentials.fingerprint, first.credentials.fingerprint);
    assert.equal(again.credentials.key, first.credentials.key);

    const year = new Date(now.getTime() + VALID_DAYS * DAY);
    const expired = await loadOrMakeCertificate(dir, names, year);
    assert.equal(expired.origin.kind, "made");
    assert.notEqual(
      expired.credentials.fingerprint,
      first.credentials.fingerprint,
    );
    assert.ok(expired.credentials.notAfter > year);

    const moved = await loadOrMakeCertificate(
      dir,
      certificateNames(["10.0.0.9"]),
      year,
    );
    assert.match(
      moved.origin.kind === "made" ? moved.origin.why : "",
      /addresses changed/,
    );
    assert.equal(
      new X509Certificate(await Deno.readTextFile(join(dir, CERT_FILE)))
        .fingerprint256,
      moved.credentials.fingerprint,
    );

    await Deno.writeTextFile(join(dir, CERT_FILE), "garbage");
    const broken = await loadOrMakeCertificate(dir, names, now);
    assert.match(
      broken.origin.kind === "made" ? broken.origin.why : "",
      /could not be read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate for webAddresses names every https:// address webHint prints, IPv6 too", async () => {
  const interfaces = [
    { family: "IPv4", address: "192.168.1.20" },
    { family: "IPv6", address: "2001:db8::20" },
    { family: "IPv6", address: "fe80::1" },
  ] as const;
  const made = await makeCertificate(
    certificateNames(webAddresses("::", interfaces)),
    new Date(),
  );
  const named = new X509Certificate(made.cert).subjectAltName ?? "";
  const printed = webHint({
    host: "::",
    port: 8767,
    interfaces,
    certificateFingerprint: made.fingerprint,
  }).flatMap((line) => /https:\/\/\[?([^\]/]+?)\]?:8767\//.exec(line) ?? [])
    .filter((_, i) => i % 2 === 1);
  assert.deepEqual(printed, ["192.168.1.20", "2001:db8::20"]);
  for (const address of printed) {
    assert.ok(
      named.split(", ").includes(`IP Address:${address.toUpperCase()}`) ||
        named.split(", ").includes(`IP Address:${address}`),
      `${address} not in ${named}`,
    );
  }
});

Deno.test("loadOrMakeCertificate uses a certificate the host put in the data folder as it is, saying what it lacks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = new Date();
    // The host's own, from their CA: another subject and issuer.
    const keys = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    );
    const theirs = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: "01",
      name: "CN=chat.example.lan",
      notBefore: now,
      notAfter: new Date(now.getTime() + 90 * DAY),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      keys,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: "chat.example.lan" },
        ]),
      ],
    }, crypto);
    const certPem = theirs.toString("pem");
    const pkcs8 = new Uint8Array(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
    );
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${
      pkcs8.toBase64().match(/.{1,64}/g)!.join("\n")
    }\n-----END PRIVATE KEY-----\n`;
    await Deno.writeTextFile(join(dir, CERT_FILE), certPem);
    await Deno.writeTextFile(join(dir, KEY_FILE), keyPem);

    const used = await loadOrMakeCertificate(
      dir,
      certificateNames(["10.0.0.7", "fd00::7"]),
      now,
    );
    assert.equal(used.origin.kind, "supplied");
    assert.match(
      used.origin.kind === "supplied" ? used.origin.problem ?? "" : "",
      /^it does not name localhost, 127\.0\.0\.1, ::1, 10\.0\.0\.7, fd00::7$/,
    );
    assert.equal(used.credentials.madeHere, false);
    assert.equal(await Deno.readTextFile(join(dir, CERT_FILE)), certPem);
    assert.equal(await Deno.readTextFile(join(dir, KEY_FILE)), keyPem);

    // Its key in another format: said, and both files left alone.
    await Deno.writeTextFile(
      join(dir, KEY_FILE),
      "-----BEGIN EC PRIVATE KEY-----\n",
    );
    await assert.rejects(
      loadOrMakeCertificate(dir, certificateNames(["10.0.0.7"]), now),
      /no PKCS#8 private key \(convert it/,
    );
    assert.equal(await Deno.readTextFile(join(dir, CERT_FILE)), certPem);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
