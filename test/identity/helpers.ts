import { ED25519_L, SIGNATURE_LENGTH } from "../../src/identity/index.ts"

export { codeOf, errorOf } from "../helpers/errors.ts"

/** A second signature for the same message: S + L (little-endian), which tweetnacl still accepts. */
export function addLToS(sig: Uint8Array): Uint8Array {
  if (sig.length !== SIGNATURE_LENGTH) throw new Error("not a signature")
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!)
  s += ED25519_L
  const out = Uint8Array.from(sig)
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn)
    s >>= 8n
  }
  if (s !== 0n) throw new Error("S + L does not fit in 32 bytes")
  return out
}
