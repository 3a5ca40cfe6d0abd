/**
 * Ed25519 key pairs and nonces (tweetnacl) and detached signatures (node:crypto,
 * the same bytes, far faster), with the strictness tweetnacl lacks: wrong lengths
 * and malleable signatures are refused.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto"
import nacl from "tweetnacl"
import { FedhubError } from "../errors.ts"
import { toBase64Url } from "./encoding.ts"

/** An ed25519 key pair in tweetnacl's layout (64-byte secret key = seed ‖ public key). */
export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

/** Length of an ed25519 public key in bytes. */
export const PUBLIC_KEY_LENGTH = 32
/** Length of a tweetnacl ed25519 secret key (seed followed by public key). */
export const SECRET_KEY_LENGTH = 64
/** Length of the seed a key pair is derived from. */
export const SEED_LENGTH = 32
/** Length of an ed25519 signature (R ‖ S). */
export const SIGNATURE_LENGTH = 64

/** Order of the ed25519 base point: L = 2^252 + 27742317777372353535851937790883648493. */
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n

/** Generates a fresh random key pair. */
export function generateKeyPair(): KeyPair {
  const kp = nacl.sign.keyPair()
  return { publicKey: kp.publicKey, secretKey: kp.secretKey }
}

/** Derives the key pair of a 32-byte seed, deterministically (how keys are stored). */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH)
    throw new FedhubError("INVALID_INPUT", `an ed25519 seed is ${SEED_LENGTH} bytes`)
  const kp = nacl.sign.keyPair.fromSeed(seed)
  return { publicKey: kp.publicKey, secretKey: kp.secretKey }
}

/** Signs `message` with a 64-byte secret key; returns the 64-byte signature. */
export function signDetached(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH)
    throw new FedhubError("INVALID_INPUT", `an ed25519 secret key is ${SECRET_KEY_LENGTH} bytes`)
  if (!(message instanceof Uint8Array)) throw new FedhubError("INVALID_INPUT", "a message to sign is a Uint8Array")
  // same bytes as nacl.sign.detached (ed25519 is deterministic), ~30x faster on this machine
  return new Uint8Array(cryptoSign(null, message, privateKeyOf(secretKey)))
}

/**
 * True when a 64-byte signature's scalar S (last 32 bytes, little-endian) is >= L.
 * tweetnacl accepts such signatures, so adding L to S forges a second valid signature.
 */
export function isMalleableSignature(signature: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false
  let s = 0n
  for (let i = SIGNATURE_LENGTH - 1; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!)
  return s >= ED25519_L
}

/**
 * Verifies a detached signature; false (never a throw) on wrong types or lengths,
 * on a malleable signature (S >= L), or when it does not verify.
 */
export function verifyDetached(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return false
  if (!(message instanceof Uint8Array)) return false
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) return false
  if (isMalleableSignature(signature)) return false
  try {
    // node:crypto's ed25519 (OpenSSL): the same verdicts as tweetnacl once S < L is checked, ~60x faster
    return cryptoVerify(null, message, publicKeyOf(publicKey), signature)
  } catch {
    return false
  }
}

// DER prefixes that wrap raw ed25519 keys for node:crypto (RFC 8410)
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")
const publicKeys = new Map<string, KeyObject>()
const privateKeys = new WeakMap<Uint8Array, KeyObject>()

const publicKeyOf = (raw: Uint8Array): KeyObject => {
  const id = Buffer.from(raw).toString("base64")
  let key = publicKeys.get(id)
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" })
    if (publicKeys.size >= 10_000) publicKeys.clear()
    publicKeys.set(id, key)
  }
  return key
}

const privateKeyOf = (secretKey: Uint8Array): KeyObject => {
  let key = privateKeys.get(secretKey)
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey.subarray(0, SEED_LENGTH)]), format: "der", type: "pkcs8" })
    privateKeys.set(secretKey, key)
  }
  return key
}

/** A fresh 32-byte random nonce as base64url (43 chars), for handshakes and replay checks. */
export const randomNonce = (): string => toBase64Url(nacl.randomBytes(32))
