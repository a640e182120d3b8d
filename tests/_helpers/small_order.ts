/**
 * Ed25519 public keys of small order, and the issue-14 forgery, for the tests
 * that check they are refused.
 */

export const hexBytes = (hex: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));

/**
 * libsodium's `has_small_order` list (y, little endian, sign bit clear):
 * written out here independently of identity.ts so a typo there shows.
 */
const SMALL_ORDER_Y = [
  "0000000000000000000000000000000000000000000000000000000000000000", // order 4
  "0100000000000000000000000000000000000000000000000000000000000000", // order 1
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1, order 2
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p, = 0
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1, = 1
];

/** Each of them with the sign bit of x clear and set: 14 encodings. */
export const SMALL_ORDER_KEYS: Uint8Array<ArrayBuffer>[] = SMALL_ORDER_Y
  .flatMap((y) => {
    const clear = hexBytes(y);
    const set = clear.slice();
    set[31]! |= 0x80;
    return [clear, set];
  });

/** The forgery: key 01 00..00, signature R = 01 00..00, S = 0. */
export const FORGED_KEY = hexBytes("01".padEnd(64, "0"));
export const FORGED_SIGNATURE = hexBytes("01".padEnd(128, "0"));
