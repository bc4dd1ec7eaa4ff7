// The relay's protocol-v1 codec against the golden vectors of tests/fixtures/protocol/v1.txt (the
// same file the Rust codec is tested on): every message decodes to the values its comment states
// and encodes back to exactly its bytes. Then damaged and random bytes: the decoder answers each
// with a coded SyncError (ERR_PROTOCOL, ERR_TOO_LARGE) and never throws anything else.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { decodeMessage, encodeMessage, recordKey, SyncError, VersionRefusal } from "../../dist/relay/index.js";
import { hex, ids, record, unhex } from "./harness.mjs";

const vectors = new Map(
  readFileSync(new URL("../fixtures/protocol/v1.txt", import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.split(" ")),
);

const first = unhex(
  "95c4101111111111111111111111111111111103cf019ab697e800000081c4102222222222222222222222222222222205c4029190",
);
const second = unhex("95c41022222222222222222222222222222222ce00011170cf400000000000000080c40a00010203040506070809");

const expected = {
  error: { kind: "Error", code: "ERR_FORBIDDEN", message: "the token grants another space", retryAfterMs: null, versions: [] },
  error_rate_limited: { kind: "Error", code: "ERR_RATE_LIMITED", message: "slow down", retryAfterMs: 1500, versions: [] },
  error_version: { kind: "Error", code: "ERR_PROTOCOL", message: "protocol version 2 is not spoken here", retryAfterMs: null, versions: [1] },
  hello: { kind: "Hello", device: ids[0x11], space: "team-42", clock: [[ids[0x11], 3], [ids[0x22], 5]] },
  hello_new_device: { kind: "Hello", device: ids[0x33], space: "s", clock: [] },
  welcome: { kind: "Welcome", versions: [1], log: ids[0xab], head: 12, clock: [[ids[0x11], 2], [ids[0x22], 5]] },
  push: { kind: "Push", records: [first, second] },
  pushed: { kind: "Pushed", clock: [[ids[0x11], 3], [ids[0x22], 70000]] },
  pull: { kind: "Pull", after: 12, maxRecords: 1000, maxBytes: 900000 },
  page: { kind: "Page", records: [first], next: 13, remaining: 2, caughtUp: false },
  page_caught_up: { kind: "Page", records: [], next: 7, remaining: 0, caughtUp: true },
  notify: { kind: "Notify", head: 15 },
  ping: { kind: "Ping", nonce: 42 },
  ping_largest_nonce: { kind: "Ping", nonce: 2 ** 53 - 1 },
  pong: { kind: "Pong", nonce: 42 },
};

/** Records as plain arrays, so deepEqual compares their bytes whatever view holds them. */
const plain = (message) => (message.records ? { ...message, records: message.records.map((r) => [...r]) } : message);

test("every golden vector decodes to its values and encodes back to its bytes", () => {
  assert.deepEqual([...vectors.keys()].sort(), Object.keys(expected).sort());
  for (const [name, bytes] of vectors) {
    const message = decodeMessage(unhex(bytes));
    assert.deepEqual(plain(message), plain(expected[name]), name);
    assert.equal(hex(encodeMessage(message)), bytes, `${name} re-encoded`);
    assert.equal(hex(encodeMessage(expected[name])), bytes, `${name} from its values`);
  }
});

test("the relay reads a record's origin and seq at their offsets, and only canonical ones", () => {
  assert.deepEqual(recordKey(first), { origin: ids[0x11], seq: 3 });
  assert.deepEqual(recordKey(second), { origin: ids[0x22], seq: 70000 });
  assert.deepEqual(recordKey(record(0x33, 2 ** 53 - 1, 8)), { origin: ids[0x33], seq: 2 ** 53 - 1 });
  const refused = [
    record(0x11, 0, 4), // seq 0
    unhex("95c41011111111111111111111111111111111" + "cc05" + "00" + "80" + "c400"), // 5 as cc 05: not shortest
    unhex("95c41011111111111111111111111111111111" + "cf0020000000000000" + "00" + "80" + "c400"), // 2^53
    unhex("95c41011111111111111111111111111111111" + "d001" + "00" + "80" + "c400"), // a signed int
    unhex("94c41011111111111111111111111111111111" + "01" + "00" + "80" + "c400"), // not 5 fields
    unhex("95c40f111111111111111111111111111111" + "01" + "00" + "80" + "c400"), // a 15-byte origin
    first.subarray(0, 23), // too short
    unhex("95c41011111111111111111111111111111111" + "ce0001"), // seq cut short
  ];
  for (const bytes of refused) assert.throws(() => recordKey(bytes), { code: "ERR_PROTOCOL" }, hex(bytes));
});

test("a version other than 1 is refused as such, naming the versions spoken, whatever follows it", () => {
  for (const bytes of ["920200", "93020801", "95cd01000102c0", "96000000000000", "96a131"]) {
    const error = catchError(() => decodeMessage(unhex(bytes)));
    if (bytes === "96a131") {
      assert.equal(error.code, "ERR_PROTOCOL");
      assert.ok(!(error instanceof VersionRefusal));
      continue;
    }
    assert.ok(error instanceof VersionRefusal, bytes);
    assert.equal(error.code, "ERR_PROTOCOL");
    assert.deepEqual(error.versions, [1]);
  }
});

test("strictness: field counts, key types and order, bounds, trailing bytes", () => {
  const D = (byte) => "c410" + byte.repeat(16); // a 16-byte id
  const malformed = [
    "", // nothing
    "90", // no version
    "9101", // no kind
    "93010a00", // unknown kind 10
    "9401082a2a", // Ping with two fields
    "9301082a00", // a byte after the message
    "930108cf0020000000000000", // nonce 2^53
    "930108ff", // a negative nonce
    "930108cb3ff0000000000000", // a float
    "96a131", // a version that is not an integer
    `950101${D("11")}a080`, // empty space name
    `950101c40f${"11".repeat(15)}a17380`, // 15-byte device id
    `950101${D("33")}a17381a17801`, // a str clock key
    `950101${D("33")}a17382${D("22")}01${D("11")}01`, // keys out of order
    `950101${D("33")}a17382${D("11")}01${D("11")}01`, // a key twice
    `950101${D("33")}a17381${D("11")}cb3ff0000000000000`, // a float counter
    `950101${D("33")}a273ff80`, // a space that is not UTF-8
    `950101${D("33")}da0101${"61".repeat(257)}80`, // a space of 257 bytes
    "930103dd7fffffff", // a records count larger than the input
    "930103910a", // a record that is not bin
    "96010691c4030102030d02c2", // a record too short
    "9601009090c09000", // Error with an array as code
    `9601029101${D("ab")}0c80c3`, // Welcome with a trailing true
  ];
  for (const bytes of malformed) {
    const error = catchError(() => decodeMessage(unhex(bytes)));
    assert.equal(error.code, "ERR_PROTOCOL", `${bytes}: ${error.message}`);
  }
  assert.equal(catchError(() => decodeMessage(new Uint8Array(2000), 1024)).code, "ERR_TOO_LARGE");
});

test("every truncation and every single-byte change of every vector gives a value or a coded error", () => {
  for (const [, text] of vectors) {
    const bytes = unhex(text);
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.equal(catchError(() => decodeMessage(bytes.subarray(0, cut))).code, "ERR_PROTOCOL");
    }
    for (let at = 0; at < bytes.length; at++) {
      for (const value of [0x00, 0x7f, 0x80, 0xc0, 0xc4, 0xcf, 0xdd, 0xff, bytes[at] ^ 0x01]) {
        const damaged = bytes.slice();
        damaged[at] = value;
        decodeOrCoded(damaged);
      }
    }
  }
});

test("random bytes give a value or a coded error, and what decodes re-encodes to a value that decodes the same", () => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  const prefixes = ["9301", "9501", "9601", "950101c410", "930103", "960106", ""];
  for (let i = 0; i < 20000; i++) {
    const prefix = unhex(prefixes[i % prefixes.length]);
    const tail = Uint8Array.from({ length: next() % 64 }, () => next() & 0xff);
    const message = decodeOrCoded(Uint8Array.from([...prefix, ...tail]));
    if (message !== null) assert.deepEqual(plain(decodeMessage(encodeMessage(message))), plain(message));
  }
});

function decodeOrCoded(bytes) {
  try {
    return decodeMessage(bytes);
  } catch (error) {
    assert.ok(error instanceof SyncError, `${hex(bytes)} threw ${error}`);
    assert.ok(["ERR_PROTOCOL", "ERR_TOO_LARGE"].includes(error.code), `${hex(bytes)}: ${error.code}`);
    return null;
  }
}

function catchError(run) {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SyncError, `not a SyncError: ${error}`);
    return error;
  }
  assert.fail("did not throw");
}
