/**
 * Layer 1, identity: keys, self-certifying node ids, canonical JSON, signed
 * envelopes and the on-disk key store. Imports nothing from other layers.
 */
export { toBase64, fromBase64, toBase64Url, fromBase64Url, toBase32, fromBase32, utf8 } from "./encoding.ts"
export {
  type NodeId,
  NODE_ID_PREFIX,
  NODE_ID_LENGTH,
  nodeIdFromPublicKey,
  publicKeyFromNodeId,
  isNodeId,
  parseNodeId,
} from "./nodeId.ts"
export {
  type KeyPair,
  PUBLIC_KEY_LENGTH,
  SECRET_KEY_LENGTH,
  SEED_LENGTH,
  SIGNATURE_LENGTH,
  ED25519_L,
  generateKeyPair,
  keyPairFromSeed,
  signDetached,
  verifyDetached,
  isMalleableSignature,
  randomNonce,
} from "./keys.ts"
export { Identity, MAX_NAME_LENGTH, assertValidName, defaultNodeName } from "./Identity.ts"
export {
  IDENTITY_FILE,
  type IdentityFile,
  type CreateIdentityOptions,
  createIdentity,
  loadIdentity,
  hasIdentity,
  writeIdentityFile,
} from "./keyStore.ts"
export { MAX_DEPTH, canonicalJson, assertIntegersOnly, canonicalBytes, contentId } from "./canonical.ts"
export {
  type SignedEnvelope,
  type EnvelopeBody,
  type VerifyExpectations,
  ENVELOPE_VERSION,
  PURPOSE_RE,
  MAX_PURPOSE_LENGTH,
  assertPurpose,
  envelopeSigningBytes,
  signEnvelope,
  verifyEnvelope,
  envelopeId,
} from "./envelope.ts"
export {
  certificateFingerprint,
  certificateNodeId,
  ensureNodeCertificate,
  loadCertificatePair,
  makeNodeCertificate,
  nodeTls,
  NODE_CERT_FILE,
  type NodeTls,
  type TlsCredentials,
} from "./tls.ts"
