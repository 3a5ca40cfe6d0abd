/**
 * A node's TLS certificate, bound to its identity: a self-signed X.509 certificate
 * whose key IS the node's ed25519 key (as libp2p and Syncthing bind TLS to a peer id),
 * so "the peer's certificate key equals the node id's key" is the whole pin, no CA
 * needed. Built with @peculiar/asn1-x509 (the X.509 structures), signed by the node key.
 *
 * A CA-issued certificate for a public name can be loaded beside it (`loadCertificatePair`);
 * its key is not the node key, so a peer binds it to the node through the handshake
 * transcript (the certificate fingerprint is signed, docs/PROTOCOL.md §2.2).
 */
import { createHash, createPrivateKey, randomBytes, X509Certificate } from "node:crypto"
import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { AsnConvert, OctetString } from "@peculiar/asn1-schema"
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  id_ce_basicConstraints,
  id_ce_subjectAltName,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509"
import { FedhubError } from "../errors.ts"
import { toBase64Url } from "./encoding.ts"
import type { Identity } from "./Identity.ts"
import { nodeIdFromPublicKey, type NodeId } from "./nodeId.ts"

/** What a TLS endpoint presents: a certificate chain and its private key, both PEM. */
export interface TlsCredentials {
  cert: string
  key: string
}

/** A node's own certificate with its fingerprint (base64url SHA-256 of the DER). */
export interface NodeTls extends TlsCredentials {
  fingerprint: string
}

/** Where `fedhub init` keeps the node certificate inside a home. */
export const NODE_CERT_FILE = join("tls", "node-cert.pem")

const ED25519_OID = "1.3.101.112"
const CN_OID = "2.5.4.3"
// RFC 8410 SubjectPublicKeyInfo prefix of a raw ed25519 key
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex")
const VALIDITY_MS = 100 * 365 * 86_400_000

const extension = (extnID: string, critical: boolean, value: unknown): Extension =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })

/**
 * Makes a self-signed certificate over the node key: subject CN = node id, SAN
 * `<node id>.fedhub.invalid`, not a CA, valid from an hour ago for 100 years (peers
 * pin the key, not the dates). Returns PEM.
 */
export function makeNodeCertificate(identity: Identity, now = Date.now()): string {
  const name = new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: CN_OID, value: new AttributeValue({ utf8String: identity.nodeId }) })]),
  ])
  const serial = randomBytes(16)
  serial[0] = (serial[0]! & 0x3f) | 0x40 // a positive INTEGER in minimal DER: no leading 0x00, top bit clear
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: new AlgorithmIdentifier({ algorithm: ED25519_OID }),
    issuer: name,
    subject: name,
    validity: new Validity({ notBefore: new Date(now - 3_600_000), notAfter: new Date(now + VALIDITY_MS) }),
    subjectPublicKeyInfo: AsnConvert.parse(Buffer.concat([ED25519_SPKI_PREFIX, identity.publicKey]), SubjectPublicKeyInfo),
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ dNSName: `${identity.nodeId}.fedhub.invalid` })])),
    ]),
  })
  const signature = identity.sign(new Uint8Array(AsnConvert.serialize(tbs)))
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ED25519_OID }),
    signatureValue: new Uint8Array(signature).buffer,
  })
  return new X509Certificate(Buffer.from(AsnConvert.serialize(cert))).toString()
}

/** The node id a certificate's key is, when it is an ed25519 key; undefined otherwise. */
export function certificateNodeId(cert: X509Certificate): NodeId | undefined {
  if (cert.publicKey.asymmetricKeyType !== "ed25519") return undefined
  const spki = cert.publicKey.export({ format: "der", type: "spki" })
  if (spki.length !== 44 || !spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) return undefined
  return nodeIdFromPublicKey(new Uint8Array(spki.subarray(12)))
}

/** base64url SHA-256 of a certificate's DER: what the handshake transcript binds. */
export const certificateFingerprint = (cert: X509Certificate): string =>
  toBase64Url(createHash("sha256").update(cert.raw).digest())

const cache = new WeakMap<Identity, NodeTls>()

/** This identity's certificate and key (made once per process and identity, kept in memory). */
export function nodeTls(identity: Identity, certPem?: string): NodeTls {
  const cached = cache.get(identity)
  if (cached && (certPem === undefined || cached.cert === certPem)) return cached
  const cert = certPem ?? makeNodeCertificate(identity)
  const made = { cert, key: identity.tlsKeyPem(), fingerprint: certificateFingerprint(new X509Certificate(cert)) }
  cache.set(identity, made)
  return made
}

/**
 * The node certificate of a home (`<home>/tls/node-cert.pem`), made and written when it
 * is missing or is not over this identity's key (after `fedhub init --force`, a rotation).
 * The key is the identity's own: no second key file.
 */
export async function ensureNodeCertificate(home: string, identity: Identity): Promise<NodeTls> {
  const file = join(home, NODE_CERT_FILE)
  let pem: string | undefined
  try {
    pem = await readFile(file, "utf8")
    if (certificateNodeId(new X509Certificate(pem)) !== identity.nodeId) pem = undefined
  } catch {
    pem = undefined
  }
  if (pem === undefined) {
    pem = makeNodeCertificate(identity)
    await mkdir(join(home, "tls"), { recursive: true, mode: 0o700 })
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`
    await writeFile(tmp, pem, { mode: 0o644 })
    await rename(tmp, file)
  }
  return nodeTls(identity, pem)
}

/**
 * Reads a CA-issued certificate chain and its key (PEM files, `--tls-cert` / `--tls-key`)
 * and checks that the key is the certificate's. Throws CONFIG_INVALID otherwise.
 */
export async function loadCertificatePair(certFile: string, keyFile: string): Promise<TlsCredentials & { fingerprint: string }> {
  let cert: string
  let key: string
  try {
    ;[cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")])
  } catch (e) {
    throw new FedhubError("CONFIG_INVALID", `cannot read the TLS certificate or key: ${(e as Error).message}`)
  }
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(cert)
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error(`${keyFile} is not the key of ${certFile}`)
  } catch (e) {
    throw new FedhubError("CONFIG_INVALID", `TLS certificate ${certFile}: ${(e as Error).message}`)
  }
  return { cert, key, fingerprint: certificateFingerprint(leaf) }
}
