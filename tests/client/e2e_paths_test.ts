import assert from "node:assert/strict";
import { e2eFilePaths, nameInFileName } from "../../src/client/e2e_paths.ts";
import { isValidName } from "../../src/protocol/limits.ts";

const FINGERPRINT = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

Deno.test("e2eFilePaths names each file by identity key and name key, and the old shared ones by identity only", () => {
  const paths = e2eFilePaths("/c", FINGERPRINT, "Sophia");
  const id = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";
  assert.deepEqual(paths, {
    keyring: `/c/e2e_keys_${id}_sophia`,
    state: `/c/e2e_state_${id}_sophia`,
    lock: `/c/e2e_lock_${id}_sophia`,
    legacyKeyring: `/c/e2e_keys_${id}`,
    legacyState: `/c/e2e_state_${id}`,
    dotted: null,
  });
  // Names equal ignoring case are one user on the server, and one set of files.
  assert.deepEqual(e2eFilePaths("/c", FINGERPRINT, "SOPHIA"), paths);
  assert.notEqual(
    e2eFilePaths("/c", FINGERPRINT, "jojo").keyring,
    paths.keyring,
  );
});

Deno.test("e2eFilePaths refuses what is not a user name, which could leave the folder", () => {
  for (const name of ["", "../x", "a/b", "a b"]) {
    assert.throws(() => e2eFilePaths("/c", FINGERPRINT, name), TypeError);
  }
});

/**
 * What a file name opens on Windows (dots and spaces at its end dropped,
 * case ignored) and on a case-insensitive macOS volume (case ignored).
 */
function windowsFile(name: string): string {
  return name.replace(/[. ]+$/, "").toLowerCase();
}

Deno.test("e2eFilePaths gives distinct names distinct files on Windows, case-insensitive macOS volumes and Linux, dots at the end included", () => {
  const names = [
    "bob",
    "bob.",
    "bob..",
    "bob...",
    ".",
    "..",
    "...",
    "a.b",
    "a.b.",
    "bob%2E",
    "bob_",
    "bob-",
    "-",
    "_",
    "x".repeat(31) + ".",
    "x".repeat(32),
  ].filter(isValidName);
  const seen = new Map<string, string>();
  for (const name of names) {
    const { keyring, state, lock } = e2eFilePaths("/c", FINGERPRINT, name);
    for (const file of [keyring, state, lock]) {
      for (const opened of [file, windowsFile(file)]) {
        const other = seen.get(opened);
        assert.ok(
          other === undefined || other === name,
          `${name} and ${other} share ${opened}`,
        );
        seen.set(opened, name);
      }
    }
  }
  // Names equal ignoring case are one name: one set of files.
  assert.deepEqual(
    e2eFilePaths("/c", FINGERPRINT, "BOB."),
    e2eFilePaths("/c", FINGERPRINT, "bob."),
  );
});

Deno.test("nameInFileName writes each dot at the end as %2E, and nothing else differently", () => {
  assert.equal(nameInFileName("bob"), "bob");
  assert.equal(nameInFileName("a.b"), "a.b");
  assert.equal(nameInFileName("bob."), "bob%2E");
  assert.equal(nameInFileName("bob.."), "bob%2E%2E");
  assert.equal(nameInFileName("."), "%2E");
  assert.equal(nameInFileName(".a."), ".a%2E");
  // The old file name, to take over, only where it differs.
  assert.equal(e2eFilePaths("/c", FINGERPRINT, "bob").dotted, null);
  const id = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";
  assert.deepEqual(e2eFilePaths("/c", FINGERPRINT, "Bob.").dotted, {
    keyring: `/c/e2e_keys_${id}_bob.`,
    state: `/c/e2e_state_${id}_bob.`,
  });
});
