/**
 * Things that sit on the wire between hubs in TLS tests: a TCP proxy that records every
 * byte it forwards, a man in the middle that terminates TLS with its own certificate, and
 * a private CA that issues a certificate for a public name (here 127.0.0.1 / localhost).
 */
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server, type Socket } from "node:net"
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls"
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto"
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
import type { Identity } from "../../src/identity/index.ts"
import { nodeTls } from "../../src/identity/index.ts"

export interface Listener {
  url: string
  close: () => Promise<void>
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", () => resolve()))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

const closing = (server: Server, sockets: Set<Socket>) => () =>
  new Promise<void>(resolve => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  })

/** A TCP proxy to `target` (host:port) that keeps every byte it forwards, both ways. */
export async function recordingProxy(target: string): Promise<Listener & { authority: string; bytes: () => Buffer }> {
  const [host, port] = target.split(":") as [string, string]
  const seen: Buffer[] = []
  const sockets = new Set<Socket>()
  const server = createNetServer(client => {
    const upstream = netConnect(Number(port), host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => {
        client.destroy()
        upstream.destroy()
      })
      s.on("close", () => sockets.delete(s))
    }
    client.on("data", d => {
      seen.push(Buffer.from(d))
      upstream.write(d)
    })
    upstream.on("data", d => {
      seen.push(Buffer.from(d))
      client.write(d)
    })
    client.on("end", () => upstream.end())
    upstream.on("end", () => client.end())
  })
  const authority = await listen(server)
  return { url: `https://${authority}`, authority, bytes: () => Buffer.concat(seen), close: closing(server, sockets) }
}

/**
 * A man in the middle: accepts TLS with `as`'s own node certificate and opens its own TLS
 * connection to `target` (presenting that same certificate), relaying the plaintext between.
 * Counts the connections it relayed.
 */
export async function tlsMitm(as: Identity, target: string): Promise<Listener & { relayed: () => number }> {
  const [host, port] = target.split(":") as [string, string]
  const creds = nodeTls(as)
  const sockets = new Set<Socket>()
  let relayed = 0
  const server = createTlsServer({ cert: creds.cert, key: creds.key, requestCert: true, rejectUnauthorized: false }, client => {
    relayed++
    const upstream = tlsConnect({ host, port: Number(port), cert: creds.cert, key: creds.key, rejectUnauthorized: false })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on("error", () => {
        client.destroy()
        upstream.destroy()
      })
      s.on("close", () => sockets.delete(s))
    }
    client.pipe(upstream).pipe(client)
  })
  server.on("tlsClientError", () => {})
  server.on("connection", s => sockets.add(s))
  const authority = await listen(server)
  return { url: `https://${authority}`, relayed: () => relayed, close: closing(server, sockets) }
}

// ecdsa-with-SHA256 (RFC 5758: parameters absent), what public CAs issue and browsers accept
const ECDSA_SHA256 = new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" })
const cn = (value: string) =>
  new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: "2.5.4.3", value: new AttributeValue({ utf8String: value }) })])])
const ext = (id: string, critical: boolean, value: unknown) => new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })

function issue(subject: string, subjectKey: KeyObject, issuer: string, issuerKey: KeyObject, extensions: Extension[]): string {
  const serial = randomBytes(12)
  serial[0] = (serial[0]! & 0x3f) | 0x40 // positive, minimal DER
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: ECDSA_SHA256,
    issuer: cn(issuer),
    subject: cn(subject),
    validity: new Validity({ notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() + 86_400_000) }),
    subjectPublicKeyInfo: AsnConvert.parse(createPublicKey(subjectKey).export({ format: "der", type: "spki" }), SubjectPublicKeyInfo),
    extensions: new Extensions(extensions),
  })
  const signature = sign("sha256", Buffer.from(AsnConvert.serialize(tbs)), issuerKey) // DER (r, s), as X.509 wants
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: ECDSA_SHA256, signatureValue: new Uint8Array(signature).buffer })
  return new X509Certificate(Buffer.from(AsnConvert.serialize(cert))).toString()
}

/** A private CA (ECDSA P-256) and one certificate it issued for localhost / 127.0.0.1 (PEM), with the leaf's key. */
export function privateCa(): { caCert: string; cert: string; key: string } {
  const ca = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
  const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
  const caCert = issue("fedhub test CA", ca, "fedhub test CA", ca, [ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: true }))])
  const cert = issue("localhost", leaf, "fedhub test CA", ca, [
    ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    ext(id_ce_subjectAltName, false, new SubjectAlternativeName([new GeneralName({ dNSName: "localhost" }), new GeneralName({ iPAddress: "127.0.0.1" })])),
  ])
  return { caCert, cert, key: createPrivateKey(leaf.export({ format: "pem", type: "pkcs8" })).export({ format: "pem", type: "pkcs8" }).toString() }
}
