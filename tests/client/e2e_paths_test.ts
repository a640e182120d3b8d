import assert from "node:assert/strict";
import { e2eFilePaths } from "../../src/client/e2e_paths.ts";

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
