/**
 * TLS between hubs (docs/PROTOCOL.md §2.2): the dialing side checks the server's
 * certificate before a byte of HTTP is sent, and both sides read the channel (both
 * certificates' fingerprints) that the handshake transcript binds.
 *
 * A server certificate is accepted when
 * - its key is the node id the dialer expects (a node certificate, pinned: no CA), or
 * - it is CA-verified for the dialed host name (a public name's certificate), or
 * - the dialer expects no id and it is a node certificate (the handshake must then prove that id).
 * Anything else is refused (CERT_MISMATCH) before the handshake starts.
 */
import type { Socket } from "node:net"
import { isIP } from "node:net"
import { connect as tlsConnect, rootCertificates, TLSSocket, type ConnectionOptions } from "node:tls"
import type { X509Certificate } from "node:crypto"
import { certificateFingerprint, certificateNodeId, type NodeId, type TlsCredentials } from "../identity/index.ts"
import { FedhubError, toFedhubError } from "../errors.ts"

/** What the transcript binds on a TLS link: base64url SHA-256 of each end's certificate. */
export interface TlsChannel {
  server: string
  client: string
}

/** The server certificate a dialer accepted. */
export interface ServerCertificate {
  fingerprint: string
  /** The node id its key is, when it is a node certificate. */
  nodeId?: NodeId
  /** True when a CA the system trusts issued it for the dialed name. */
  caVerified: boolean
}

/** What a dialer requires of the server's certificate. */
export interface TlsPin {
  /** The node the dialer means to reach. */
  expectNodeId?: NodeId
  /** Exactly this certificate (the upgrade after a challenge answered on it). */
  fingerprint?: string
  /** CA certificates (PEM) trusted for CA-issued server certificates, instead of the system's. */
  ca?: string[]
}

/**
 * Decides whether a server certificate may carry a link (pure: the TLS facts in, a verdict out).
 * @throws FedhubError CERT_MISMATCH
 */
export function acceptServerCertificate(cert: X509Certificate | undefined, caVerified: boolean, pin: TlsPin): ServerCertificate {
  if (!cert) throw new FedhubError("CERT_MISMATCH", "the server presented no certificate")
  const fingerprint = certificateFingerprint(cert)
  if (pin.fingerprint !== undefined && fingerprint !== pin.fingerprint)
    throw new FedhubError("CERT_MISMATCH", "the server presents another certificate than the one its handshake was bound to")
  const nodeId = certificateNodeId(cert)
  const accepted = { fingerprint, caVerified, ...(nodeId ? { nodeId } : {}) }
  if (pin.expectNodeId !== undefined) {
    if (nodeId === pin.expectNodeId || caVerified) return accepted
    throw new FedhubError(
      "CERT_MISMATCH",
      nodeId
        ? `expected node ${pin.expectNodeId}, the server's certificate is the key of ${nodeId}`
        : `expected node ${pin.expectNodeId}, the server's certificate is neither its key nor CA-verified for this name`,
    )
  }
  if (nodeId || caVerified) return accepted
  throw new FedhubError("CERT_MISMATCH", "the server's certificate is neither a node certificate nor CA-verified for this name")
}

/** A `createConnection` for node:http(s) and ws in its callback form. */
/** The CAs a dialer trusts: the system's plus `extraPem` (a PEM bundle), or undefined for the system's alone. */
export const trustedCas = (extraPem: string | undefined): string[] | undefined =>
  extraPem === undefined ? undefined : [...rootCertificates, extraPem]

export type CreateConnection = (options: Record<string, unknown>, callback: (err: Error | null, socket?: Socket) => void) => undefined

/**
 * Dials TLS (1.3 or 1.2) presenting `credentials` (our node certificate; none for a
 * plain descriptor fetch), checks the server's certificate against `pin` and only then
 * hands the socket to the HTTP client, so a refused certificate never sees a request.
 * `onServer` learns the accepted certificate.
 */
export function pinnedTlsConnect(credentials: TlsCredentials | undefined, pin: TlsPin, onServer?: (cert: ServerCertificate) => void): CreateConnection {
  return (options, callback) => {
    const host = String(options.host ?? options.hostname ?? "localhost").replace(/^\[|\]$/g, "")
    const isIpHost = isIP(host) !== 0
    const socket = tlsConnect({
      ...(options as ConnectionOptions),
      host,
      servername: isIpHost ? undefined : host,
      ...(credentials ? { cert: credentials.cert, key: credentials.key } : {}),
      ...(pin.ca ? { ca: pin.ca } : {}),
      rejectUnauthorized: false, // a node certificate is self-signed: checked below, by its key
      minVersion: "TLSv1.2",
      ALPNProtocols: ["http/1.1"],
      ...{ noDelay: true }, // small handshake messages: no Nagle wait for a delayed ACK (a net.connect option)
    })
    const onError = (e: Error) => callback(e)
    socket.once("error", onError)
    socket.once("secureConnect", () => {
      socket.off("error", onError)
      try {
        const cert = socket.getPeerX509Certificate()
        // the chain by the trusted CAs (OpenSSL), the name by the certificate's SANs
        const nameOk = cert !== undefined && (isIP(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined
        const caVerified = socket.authorized && nameOk
        const accepted = acceptServerCertificate(cert, caVerified, pin)
        onServer?.(accepted)
        callback(null, socket)
      } catch (e) {
        socket.destroy()
        callback(toFedhubError(e))
      }
    })
    return undefined
  }
}

/** What the server sees of a connection's TLS: whether it is encrypted, and its channel. */
export interface ServerTlsView {
  encrypted: boolean
  /** Both certificates' fingerprints; `client` is "" when the client presented none. */
  channel?: TlsChannel
  /** The node id the client certificate's key is, when it is a node certificate. */
  clientNodeId?: NodeId
}

/** Reads an accepted socket's TLS facts (judged by the socket, never by what the client says). */
export function serverTlsView(socket: Socket): ServerTlsView {
  if (!(socket instanceof TLSSocket) || !socket.encrypted) return { encrypted: false }
  const own = socket.getX509Certificate()
  const peer = socket.getPeerX509Certificate()
  const clientNodeId = peer ? certificateNodeId(peer) : undefined
  return {
    encrypted: true,
    channel: { server: own ? certificateFingerprint(own) : "", client: peer ? certificateFingerprint(peer) : "" },
    ...(clientNodeId ? { clientNodeId } : {}),
  }
}
