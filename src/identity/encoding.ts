/**
 * Byte/string encodings used by the identity layer: base64 (signatures, keys on
 * disk), base64url (nonces), lowercase base32 (node ids) and UTF-8.
 */
import { FedhubError } from "../errors.ts"

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/
const B64URL_RE = /^[A-Za-z0-9_-]*={0,2}$/
const B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
const B32_LOOKUP: ReadonlyMap<string, number> = new Map([...B32_ALPHABET].map((c, i) => [c, i]))

const encoder = new TextEncoder()

/** Checks the shape of (standard or url-safe) base64 text: alphabet, padding, length. */
function checkBase64Shape(s: unknown, re: RegExp, label: string): string {
  if (typeof s !== "string") throw new FedhubError("INVALID_INPUT", `${label}: expected a string`)
  if (!re.test(s)) throw new FedhubError("INVALID_INPUT", `${label}: invalid character`)
  const padAt = s.indexOf("=")
  if (padAt >= 0) {
    // padded form: total length a multiple of 4, 1 or 2 '=' only at the end
    if (s.length % 4 !== 0 || s.length - padAt > 2) throw new FedhubError("INVALID_INPUT", `${label}: bad padding`)
  } else if (s.length % 4 === 1) {
    throw new FedhubError("INVALID_INPUT", `${label}: impossible length ${s.length}`)
  }
  return s
}

/** Encodes bytes as padded standard base64 (RFC 4648 §4). */
export const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

/**
 * Decodes standard base64, padded or unpadded; throws INVALID_INPUT on any other
 * character or an impossible length (unlike Buffer, which skips garbage silently).
 * Non-zero trailing bits are tolerated, as most decoders do (Matrix keys use them).
 */
export function fromBase64(s: string): Uint8Array {
  const text = checkBase64Shape(s, B64_RE, "base64")
  return new Uint8Array(Buffer.from(text, "base64"))
}

/** Encodes bytes as unpadded base64url (RFC 4648 §5), safe in URLs and file names. */
export const toBase64Url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url")

/** Decodes base64url, padded or unpadded; throws INVALID_INPUT on bad input. */
export function fromBase64Url(s: string): Uint8Array {
  const text = checkBase64Shape(s, B64URL_RE, "base64url")
  return new Uint8Array(Buffer.from(text, "base64url"))
}

/** Encodes bytes as lowercase RFC 4648 base32 without padding (used in node ids). */
export function toBase32(bytes: Uint8Array): string {
  let out = ""
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += B32_ALPHABET[(buffer >>> bits) & 31]
    }
  }
  if (bits > 0) out += B32_ALPHABET[(buffer << (5 - bits)) & 31]
  return out
}

/**
 * Decodes lowercase unpadded base32 strictly: refuses other characters, impossible
 * lengths and non-zero trailing bits, so each byte string has exactly one spelling.
 */
export function fromBase32(s: string): Uint8Array {
  if (typeof s !== "string") throw new FedhubError("INVALID_INPUT", "base32: expected a string")
  const rem = s.length % 8
  if (rem === 1 || rem === 3 || rem === 6) throw new FedhubError("INVALID_INPUT", `base32: impossible length ${s.length}`)
  const out = new Uint8Array(Math.floor((s.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let j = 0
  for (const c of s) {
    const v = B32_LOOKUP.get(c)
    if (v === undefined) throw new FedhubError("INVALID_INPUT", "base32: invalid character (lowercase a-z, 2-7 only)")
    buffer = ((buffer << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[j++] = (buffer >>> bits) & 0xff
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new FedhubError("INVALID_INPUT", "base32: non-zero trailing bits")
  return out
}

/** Encodes a string as UTF-8 bytes (what gets hashed and signed). */
export const utf8 = (s: string): Uint8Array => encoder.encode(s)
