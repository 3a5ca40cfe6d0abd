/**
 * One node's signing identity. The secret key sits in a private field and is never
 * serialized, inspected or logged; only the node id and name are shown.
 */
import { createPrivateKey } from "node:crypto"
import { FedhubError } from "../errors.ts"
import { generateKeyPair, keyPairFromSeed, signDetached, type KeyPair } from "./keys.ts"
import { nodeIdFromPublicKey, type NodeId } from "./nodeId.ts"

// the DER prefix that wraps a raw ed25519 seed as PKCS#8 (RFC 8410)
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex")

/** Longest accepted display name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 200

// C0/C1 controls and the Unicode line/paragraph separators have no place in a display name
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/

/** Validates a display name: 1..200 characters, no control characters. */
export function assertValidName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.trim().length === 0)
    throw new FedhubError("INVALID_INPUT", "a node name is a non-empty string")
  if (name.length > MAX_NAME_LENGTH)
    throw new FedhubError("INVALID_INPUT", `a node name is at most ${MAX_NAME_LENGTH} characters`)
  if (CONTROL_RE.test(name)) throw new FedhubError("INVALID_INPUT", "a node name holds no control characters")
}

/** The default name of a node: "hub-" and the first 8 key characters of its id. */
export const defaultNodeName = (nodeId: NodeId): string => `hub-${nodeId.slice(3, 11)}`

/** A node's key pair with its id and display name; signs, never reveals its secret. */
export class Identity {
  /** The self-certifying id derived from the public key. */
  readonly nodeId: NodeId
  /** Human-readable display name (not unique, not authenticated). */
  readonly name: string
  readonly #publicKey: Uint8Array
  readonly #secretKey: Uint8Array

  private constructor(keyPair: KeyPair, name: string | undefined) {
    this.#publicKey = Uint8Array.from(keyPair.publicKey)
    this.#secretKey = Uint8Array.from(keyPair.secretKey)
    this.nodeId = nodeIdFromPublicKey(this.#publicKey)
    const display = name ?? defaultNodeName(this.nodeId)
    assertValidName(display)
    this.name = display
  }

  /** A new identity with a fresh random key. */
  static generate(name?: string): Identity {
    return new Identity(generateKeyPair(), name)
  }

  /** The identity of a 32-byte seed (deterministic; how the key store restores a node). */
  static fromSeed(seed: Uint8Array, name?: string): Identity {
    return new Identity(keyPairFromSeed(seed), name)
  }

  /** The 32-byte ed25519 public key (a copy, so callers cannot alter this identity). */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey)
  }

  /** Signs `message` (detached ed25519). Callers sign canonical bytes, see `signEnvelope`. */
  sign(message: Uint8Array): Uint8Array {
    return signDetached(this.#secretKey, message)
  }

  /**
   * The private key as PKCS#8 PEM, for the TLS stack only (the node's certificate is made
   * over this key, so a TLS handshake proves the node id). Never log or store it elsewhere.
   */
  tlsKeyPem(): string {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, this.#secretKey.subarray(0, 32)]), format: "der", type: "pkcs8" })
      .export({ format: "pem", type: "pkcs8" })
      .toString()
  }

  /** JSON form: only the public `{ nodeId, name }`, so the secret cannot leak via JSON. */
  toJSON(): { nodeId: NodeId; name: string } {
    return { nodeId: this.nodeId, name: this.name }
  }

  /** What `util.inspect` / `console.log` show: `{ nodeId, name }` only. */
  [Symbol.for("nodejs.util.inspect.custom")](): { nodeId: NodeId; name: string } {
    return this.toJSON()
  }
}
