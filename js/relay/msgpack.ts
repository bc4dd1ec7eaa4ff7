// The MessagePack subset the sync protocol uses, read strictly and written canonically: arrays,
// maps, unsigned integers up to 2^53 − 1 (exact as JavaScript numbers), UTF-8 strings, byte
// strings, booleans and nil. Nothing else is accepted (no floats, no extension types, no negative
// integers), every length is checked against the bytes left before anything is read or kept, and
// the writer always picks the shortest form, so equal values are equal bytes.
//
// Hand-written rather than a general MessagePack library: the protocol needs bin map keys in
// order, exact field counts, integers refused before they lose precision, and byte-for-byte
// canonical output, which a general decoder hides behind its object model (see the commit).

import { SyncError } from "../errors.js";

/** The largest integer the protocol carries (2^53 − 1). */
export const MAX_UINT = Number.MAX_SAFE_INTEGER;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const toUtf8 = new TextEncoder();

/** A malformed-input error: always `ERR_PROTOCOL`. */
export function malformed(message: string): SyncError {
  return new SyncError("ERR_PROTOCOL", message);
}

/** Reads values one after another from untrusted bytes; every failure is an `ERR_PROTOCOL`. */
export class Reader {
  #bytes: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** How many bytes are left. */
  get left(): number {
    return this.#bytes.length - this.#pos;
  }

  /** Refuses any byte after the value(s) read. */
  finish(what: string): void {
    if (this.left !== 0) throw malformed(`${this.left} bytes after the ${what}`);
  }

  #need(n: number): number {
    if (n > this.left) throw malformed(`truncated at byte ${this.#pos}`);
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  #byte(): number {
    return this.#bytes[this.#need(1)]!;
  }

  #be(n: 1 | 2 | 4): number {
    const at = this.#need(n);
    return n === 1 ? this.#view.getUint8(at) : n === 2 ? this.#view.getUint16(at) : this.#view.getUint32(at);
  }

  /** 8 big-endian bytes (of `cf` or, when non-negative, `d3`) as a number of at most 2^53 − 1. */
  #be64(): number {
    const at = this.#need(8);
    const high = this.#view.getUint32(at);
    if (high > 0x1f_ffff) throw malformed(`the integer at byte ${at - 1} is out of range (over 2^53 - 1 or negative)`);
    return high * 0x1_0000_0000 + this.#view.getUint32(at + 4);
  }

  /** A length that promises at least `minEach` bytes per element, refused when they cannot be there. */
  #length(len: number, minEach: number): number {
    if (len * minEach > this.left) throw malformed(`length ${len} at byte ${this.#pos} exceeds the input`);
    return len;
  }

  /** An array header; each element takes at least `minEach` bytes. */
  arrayLength(minEach = 1): number {
    const at = this.#pos;
    const marker = this.#byte();
    if (marker >= 0x90 && marker <= 0x9f) return this.#length(marker & 0x0f, minEach);
    if (marker === 0xdc) return this.#length(this.#be(2), minEach);
    if (marker === 0xdd) return this.#length(this.#be(4), minEach);
    throw malformed(`expected an array at byte ${at}, found 0x${hex2(marker)}`);
  }

  /** A map header; each entry takes at least `minEach` bytes. */
  mapLength(minEach = 2): number {
    const at = this.#pos;
    const marker = this.#byte();
    if (marker >= 0x80 && marker <= 0x8f) return this.#length(marker & 0x0f, minEach);
    if (marker === 0xde) return this.#length(this.#be(2), minEach);
    if (marker === 0xdf) return this.#length(this.#be(4), minEach);
    throw malformed(`expected a map at byte ${at}, found 0x${hex2(marker)}`);
  }

  /**
   * A non-negative integer of any width, at most 2^53 − 1. Like the Rust reader, a signed form
   * holding a non-negative value is accepted; a negative one is refused.
   */
  uint(): number {
    const at = this.#pos;
    const marker = this.#byte();
    if (marker <= 0x7f) return marker;
    let n: number;
    switch (marker) {
      case 0xcc:
        return this.#be(1);
      case 0xcd:
        return this.#be(2);
      case 0xce:
        return this.#be(4);
      case 0xcf:
      case 0xd3:
        return this.#be64();
      case 0xd0:
        n = this.#view.getInt8(this.#need(1));
        break;
      case 0xd1:
        n = this.#view.getInt16(this.#need(2));
        break;
      case 0xd2:
        n = this.#view.getInt32(this.#need(4));
        break;
      default:
        throw malformed(`expected an integer at byte ${at}, found 0x${hex2(marker)}`);
    }
    if (n < 0) throw malformed(`expected a non-negative integer at byte ${at}, found ${n}`);
    return n;
  }

  /** A boolean. */
  bool(): boolean {
    const at = this.#pos;
    const marker = this.#byte();
    if (marker === 0xc2) return false;
    if (marker === 0xc3) return true;
    throw malformed(`expected a boolean at byte ${at}, found 0x${hex2(marker)}`);
  }

  /** Consumes a nil if one comes next; says whether it did. */
  nil(): boolean {
    if (this.left > 0 && this.#bytes[this.#pos] === 0xc0) {
      this.#pos += 1;
      return true;
    }
    return false;
  }

  /** A UTF-8 string. */
  str(): string {
    const at = this.#pos;
    const marker = this.#byte();
    let len: number;
    if (marker >= 0xa0 && marker <= 0xbf) len = marker & 0x1f;
    else if (marker === 0xd9) len = this.#be(1);
    else if (marker === 0xda) len = this.#be(2);
    else if (marker === 0xdb) len = this.#be(4);
    else throw malformed(`expected a string at byte ${at}, found 0x${hex2(marker)}`);
    const start = this.#need(this.#length(len, 1));
    try {
      return utf8.decode(this.#bytes.subarray(start, start + len));
    } catch {
      throw malformed(`the string at byte ${at} is not UTF-8`);
    }
  }

  /** A byte string (a view into the input, not a copy). */
  bin(): Uint8Array {
    const at = this.#pos;
    const marker = this.#byte();
    let len: number;
    if (marker === 0xc4) len = this.#be(1);
    else if (marker === 0xc5) len = this.#be(2);
    else if (marker === 0xc6) len = this.#be(4);
    else throw malformed(`expected bytes at byte ${at}, found 0x${hex2(marker)}`);
    const start = this.#need(this.#length(len, 1));
    return this.#bytes.subarray(start, start + len);
  }
}

/** Writes values in their canonical (shortest) forms into a growing buffer. */
export class Writer {
  #bytes = new Uint8Array(64);
  #view = new DataView(this.#bytes.buffer);
  #len = 0;

  /** The bytes written so far (a copy-free view). */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes.subarray(0, this.#len);
  }

  #room(n: number): number {
    if (this.#len + n > this.#bytes.length) {
      let size = this.#bytes.length * 2;
      while (size < this.#len + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bytes.subarray(0, this.#len));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.#len;
    this.#len += n;
    return at;
  }

  #marker(marker: number, n: number, width: 0 | 1 | 2 | 4): void {
    const at = this.#room(1 + width);
    this.#bytes[at] = marker;
    if (width === 1) this.#view.setUint8(at + 1, n);
    else if (width === 2) this.#view.setUint16(at + 1, n);
    else if (width === 4) this.#view.setUint32(at + 1, n);
  }

  /** A length header of one of the three families (fix form, 16-bit, 32-bit). */
  #header(len: number, fix: number, fixMax: number, m8: number | null, m16: number, m32: number): void {
    if (!Number.isInteger(len) || len < 0 || len > 0xffff_ffff) throw invalid(`length ${len}`);
    if (fix >= 0 && len <= fixMax) this.#marker(fix | len, 0, 0);
    else if (m8 !== null && len <= 0xff) this.#marker(m8, len, 1);
    else if (len <= 0xffff) this.#marker(m16, len, 2);
    else this.#marker(m32, len, 4);
  }

  arrayHeader(len: number): void {
    this.#header(len, 0x90, 15, null, 0xdc, 0xdd);
  }

  mapHeader(len: number): void {
    this.#header(len, 0x80, 15, null, 0xde, 0xdf);
  }

  uint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`integer ${n} (0 to 2^53 - 1)`);
    if (n <= 0x7f) this.#marker(n, 0, 0);
    else if (n <= 0xff) this.#marker(0xcc, n, 1);
    else if (n <= 0xffff) this.#marker(0xcd, n, 2);
    else if (n <= 0xffff_ffff) this.#marker(0xce, n, 4);
    else {
      const at = this.#room(9);
      this.#bytes[at] = 0xcf;
      this.#view.setUint32(at + 1, Math.floor(n / 0x1_0000_0000));
      this.#view.setUint32(at + 5, n >>> 0);
    }
  }

  bool(value: boolean): void {
    this.#marker(value ? 0xc3 : 0xc2, 0, 0);
  }

  nil(): void {
    this.#marker(0xc0, 0, 0);
  }

  str(value: string): void {
    const encoded = toUtf8.encode(value);
    this.#header(encoded.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    this.raw(encoded);
  }

  bin(value: Uint8Array): void {
    this.#header(value.length, -1, -1, 0xc4, 0xc5, 0xc6);
    this.raw(value);
  }

  /** Bytes copied as they are. */
  raw(value: Uint8Array): void {
    const at = this.#room(value.length);
    this.#bytes.set(value, at);
  }
}

/** The length of a byte-string header for `len` bytes. */
export function binHeaderLength(len: number): number {
  return len <= 0xff ? 2 : len <= 0xffff ? 3 : 5;
}

function invalid(what: string): SyncError {
  return new SyncError("ERR_INVALID_ARGUMENT", `cannot encode ${what}`);
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
