import { readFileSync } from "node:fs"
import { describe, expect, expectTypeOf, it } from "vitest"
import { generateTypes, readSchemas, TYPES_FILE } from "../../scripts/gen-types.ts"
import { ERRORS, FedhubError } from "../../src/errors.ts"
import { Identity, randomNonce, signEnvelope, toBase64 } from "../../src/identity/index.ts"
import {
  isValid,
  SCHEMA_NAMES,
  schemaUri,
  validate,
  validatorFor,
  type Endorsement,
  type FederationNode,
  type HubConfig,
} from "../../src/schema/index.ts"
import { errorOf } from "../identity/helpers.ts"

const clone = <T>(v: T): T => structuredClone(v)

const hub = Identity.generate("hub-a")
const endorser = Identity.generate("hub-b")
const now = 1_760_000_000_000

const endorsement: Endorsement = {
  subject: hub.nodeId,
  subjectPublicKey: toBase64(hub.publicKey),
  level: "verified",
  issuedAt: now,
  expiresAt: now + 86_400_000,
}

/** A descriptor using every section and optional field. */
const fullNode = (): FederationNode => ({
  id: hub.nodeId,
  sequence: 7,
  issuedAt: now,
  name: "Hub A",
  type: "hub",
  software: { name: "fedhub", version: "0.1.0" },
  identity: {
    publicKey: toBase64(hub.publicKey),
    algorithm: "ed25519",
    certificateChain: [signEnvelope(endorser, "fedhub/endorsement/v1", endorsement, now)],
  },
  connectivity: {
    endpoints: [
      { url: "wss://hub-a.example.org/sync", transport: "wss", priority: 0 },
      { url: "ws://10.0.0.5:7420/sync", transport: "ws", priority: 10 },
    ],
    protocolVersions: ["fedhub/1"],
    relayVia: [endorser.nodeId],
  },
  policies: {
    federationMode: "allowlist",
    dataRetentionDays: 30,
    acceptsRelay: true,
    requireEncryption: true,
    minPeerTrust: "verified",
  },
  services: { capabilities: ["sync", "directory", "relay", "marketplace", "collaboration", "discovery"], maxPeers: 1000 },
  health: { status: "healthy", startedAt: now - 60_000 },
  metadata: {
    description: "Research hub",
    region: "eu-west",
    operator: "Example Lab",
    tags: ["research", "ai"],
    website: "https://example.org",
  },
})

describe("schema files", () => {
  it("every schema and $defs entry compiles under strict mode", () => {
    expect(SCHEMA_NAMES.length).toBeGreaterThan(10)
    for (const name of SCHEMA_NAMES) expect(typeof validatorFor(name), name).toBe("function")
  })

  it("each file declares draft 2020-12, its $id and a title", () => {
    const schemas = readSchemas()
    expect([...schemas.keys()]).toEqual(
      expect.arrayContaining([
        "common.schema.json",
        "signed-envelope.schema.json",
        "federation-node.schema.json",
        "endorsement.schema.json",
        "handshake.schema.json",
        "config.schema.json",
        "api-doc-create.schema.json",
        "api-doc-put.schema.json",
        "api-doc-delete.schema.json",
        "problem.schema.json",
      ]),
    )
    for (const [file, schema] of schemas) expect(schema.$id).toBe(`https://fedhub.dev/schemas/${file}`)
  })

  it("addresses $defs as <file>#<key>", () => {
    expect(schemaUri("federation-node")).toBe("https://fedhub.dev/schemas/federation-node.schema.json")
    expect(schemaUri("handshake#ChallengeRequest")).toBe(
      "https://fedhub.dev/schemas/handshake.schema.json#/$defs/ChallengeRequest",
    )
    expect(isValid("common#TrustLevel", "partner")).toBe(true)
    expect(isValid("common#TrustLevel", "friend")).toBe(false)
  })

  it("refuses an unknown schema name", () => {
    expect(errorOf(() => validate("nope" as never, {})).code).toBe("INTERNAL")
  })

  it("src/schema/types.ts is what gen-types generates (run `npm run gen:types`)", async () => {
    expect(readFileSync(TYPES_FILE, "utf8")).toBe(await generateTypes())
  })
})

describe("FederationNode", () => {
  it("accepts a complete descriptor and returns it typed and untouched", () => {
    const node = fullNode()
    const before = clone(node)
    const out = validate("federation-node", node)
    expectTypeOf(out).toEqualTypeOf<FederationNode>()
    expect(out).toBe(node)
    expect(node).toEqual(before)
  })

  it("accepts a minimal descriptor (no chain, no relays, data kept forever)", () => {
    const node = fullNode()
    delete node.identity.certificateChain
    delete node.connectivity.relayVia
    node.connectivity.endpoints = []
    node.policies.dataRetentionDays = null
    node.metadata = { tags: [] }
    expect(validate<FederationNode>("federation-node", node)).toBe(node)
    expect("certificateChain" in node.identity).toBe(false) // no defaults filled in
  })

  it("refuses a float anywhere, naming the path", () => {
    for (const [mutate, path] of [
      [(n: FederationNode) => (n.sequence = 1.5), "/sequence"],
      [(n: FederationNode) => (n.services.maxPeers = 10.25), "/services/maxPeers"],
      [(n: FederationNode) => (n.policies.dataRetentionDays = 0.5), "/policies/dataRetentionDays"],
      [(n: FederationNode) => (n.connectivity.endpoints[0]!.priority = 0.1), "/connectivity/endpoints/0/priority"],
    ] as const) {
      const node = fullNode()
      mutate(node)
      const err = errorOf(() => validate("federation-node", node))
      expect(err.code).toBe("SCHEMA_INVALID")
      expect(err.status).toBe(ERRORS.SCHEMA_INVALID.status)
      expect(err.detail).toContain(`${path} must be integer`)
      expect(err.extra?.schema).toBe("federation-node")
      expect(err.extra?.errors).toEqual([expect.objectContaining({ instancePath: path, keyword: "type" })])
    }
  })

  it("refuses an unknown property, at the top or in a section", () => {
    const top = { ...fullNode(), color: "blue" }
    expect(errorOf(() => validate("federation-node", top)).detail).toMatch(/^\/color is not allowed \(unknown property/)
    const nested = fullNode()
    ;(nested.policies as unknown as Record<string, unknown>).allowFloats = true
    const err = errorOf(() => validate("federation-node", nested))
    expect(err.code).toBe("SCHEMA_INVALID")
    expect(err.detail).toContain("/policies/allowFloats is not allowed")
  })

  it("refuses a bad node id", () => {
    for (const id of ["fh1short", hub.nodeId.toUpperCase(), `fh2${hub.nodeId.slice(3)}`, `${hub.nodeId}a`, 42]) {
      const node = { ...fullNode(), id }
      const err = errorOf(() => validate("federation-node", node))
      expect(err.code).toBe("SCHEMA_INVALID")
      expect(err.detail).toMatch(/^\/id /)
    }
    const relayed = fullNode()
    relayed.connectivity.relayVia = ["fh1nope"]
    expect(errorOf(() => validate("federation-node", relayed)).detail).toContain("/connectivity/relayVia/0 is not a valid NodeId")
  })

  it("refuses missing sections, bad enums, duplicate capabilities and non-ws endpoints", () => {
    const missing = fullNode() as Partial<FederationNode>
    delete missing.health
    expect(errorOf(() => validate("federation-node", missing)).detail).toBe("/health is required")

    const badType = { ...fullNode(), type: "router" }
    expect(errorOf(() => validate("federation-node", badType)).detail).toContain('/type must be one of "hub", "relay", "gateway"')

    const dup = fullNode()
    dup.services.capabilities = ["sync", "sync"]
    expect(errorOf(() => validate("federation-node", dup)).detail).toMatch(/^\/services\/capabilities /)

    const ftp = fullNode()
    ftp.connectivity.endpoints[0]!.url = "ftp://hub-a.example.org"
    expect(errorOf(() => validate("federation-node", ftp)).detail).toContain("/connectivity/endpoints/0/url is not a valid Url")

    const algo = fullNode()
    ;(algo.identity as { algorithm: string }).algorithm = "rsa"
    expect(errorOf(() => validate("federation-node", algo)).detail).toContain('/identity/algorithm must be "ed25519"')
  })
})

describe("signed envelopes and endorsements", () => {
  it("accepts what the identity layer signs", () => {
    const env = signEnvelope(endorser, "fedhub/endorsement/v1", endorsement, now)
    expect(isValid("signed-envelope", env)).toBe(true)
    expect(isValid("endorsement", env.payload)).toBe(true)
  })

  it("refuses another version, a bad purpose, a short signature or extra fields", () => {
    const env = signEnvelope(hub, "fedhub/test", { n: 1 }, now)
    expect(errorOf(() => validate("signed-envelope", { ...env, v: 2 })).detail).toBe("/v must be 1 (got 2)")
    expect(errorOf(() => validate("signed-envelope", { ...env, purpose: "Fedhub Test" })).detail).toMatch(/^\/purpose /)
    expect(errorOf(() => validate("signed-envelope", { ...env, sig: "AAAA" })).detail).toMatch(/^\/sig is not a valid Signature/)
    expect(errorOf(() => validate("signed-envelope", { ...env, id: "x" })).detail).toMatch(/^\/id is not allowed/)
    expect(errorOf(() => validate("signed-envelope", { ...env, time: -1 })).detail).toMatch(/^\/time must be >= 0/)
  })
})

describe("handshake bodies", () => {
  const request = {
    protocol: "fedhub/1",
    clientId: hub.nodeId,
    clientNonce: randomNonce(),
    endpoint: "ws://127.0.0.1:7420/sync",
  }

  it("validates each body under its own name", () => {
    expect(validate("handshake#ChallengeRequest", request)).toBe(request)
    const proof = {
      clientId: hub.nodeId,
      serverId: endorser.nodeId,
      clientNonce: request.clientNonce,
      serverNonce: randomNonce(),
      endpoint: request.endpoint,
    }
    expect(isValid("handshake#HandshakeProof", proof)).toBe(true)
    const response = {
      protocol: "fedhub/1",
      serverId: endorser.nodeId,
      serverNonce: proof.serverNonce,
      expiresAt: now + 30_000,
      proof: signEnvelope(endorser, "fedhub/handshake/server/v1", proof, now),
    }
    expect(isValid("handshake#ChallengeResponse", response)).toBe(true)
  })

  it("refuses another protocol and malformed nonces", () => {
    expect(errorOf(() => validate("handshake#ChallengeRequest", { ...request, protocol: "fedhub/2" })).detail).toMatch(
      /^\/protocol must be "fedhub\/1"/,
    )
    expect(errorOf(() => validate("handshake#ChallengeRequest", { ...request, clientNonce: "abc" })).detail).toMatch(
      /^\/clientNonce is not a valid Nonce/,
    )
  })
})

describe("HubConfig", () => {
  it("accepts a full config and an empty one", () => {
    const config: HubConfig = {
      $schema: "https://fedhub.dev/schemas/config.schema.json",
      name: "lab hub",
      host: "0.0.0.0",
      port: 7420,
      peers: ["ws://hub-b.example.org:7420/sync", "https://hub-c.example.org"],
      logLevel: "debug",
      limits: { frameBytes: 1_048_576, changeDepth: 32, dialScopes: ["public"] },
      publicUrl: "https://hub-a.example.org",
      type: "relay",
      federationMode: "open",
      dataRetentionDays: null,
    }
    expect(validate("config", config)).toBe(config)
    expect(validate("config", {})).toEqual({})
  })

  it("names a typo clearly and lists the allowed keys", () => {
    const err = errorOf(() => validate("config", { prot: 1 }))
    expect(err.code).toBe("SCHEMA_INVALID")
    expect(err.detail).toMatch(/^\/prot is not allowed \(unknown property; allowed: .*\bport\b/)
  })

  it("refuses out-of-range ports, bad peers and unknown log levels", () => {
    expect(errorOf(() => validate("config", { port: 70000 })).detail).toBe("/port must be <= 65535 (got 70000)")
    expect(errorOf(() => validate("config", { port: "7420" })).detail).toBe('/port must be integer (got "7420")')
    expect(errorOf(() => validate("config", { peers: ["hub-b:7420"] })).detail).toMatch(/^\/peers\/0 /)
    expect(errorOf(() => validate("config", { logLevel: "verbose" })).detail).toMatch(/^\/logLevel must be one of/)
    expect(errorOf(() => validate("config", [])).detail).toBe("/ must be object (got [])")
  })

  it("takes a label and another error code", () => {
    const err = errorOf(() => validate("config", { prot: 1 }, { label: "config.json", code: "CONFIG_INVALID" }))
    expect(err.code).toBe("CONFIG_INVALID")
    expect(err.detail).toMatch(/^config\.json: \/prot is not allowed/)
  })
})

describe("API bodies", () => {
  it("DocCreateBody", () => {
    expect(isValid("api-doc-create", {})).toBe(true)
    expect(isValid("api-doc-create", { content: { title: "x", n: [1, 2] }, text: true })).toBe(true)
    expect(errorOf(() => validate("api-doc-create", { content: [] })).detail).toBe("/content must be object (got [])")
  })

  it("DocPutBody: path as a string or a non-empty array of keys and indexes, any JSON value", () => {
    expect(isValid("api-doc-put", { path: "/a/b", value: null })).toBe(true)
    expect(isValid("api-doc-put", { path: ["items", 0, "title"], value: "x", text: true, message: "rename" })).toBe(true)
    expect(errorOf(() => validate("api-doc-put", { path: [], value: 1 })).detail).toMatch(/^\/path must NOT have fewer than 1 items/)
    expect(errorOf(() => validate("api-doc-put", { path: "", value: 1 })).detail).toMatch(/^\/path must NOT have fewer than 1 characters/)
    expect(errorOf(() => validate("api-doc-put", { path: ["a", -1], value: 1 })).detail).toBe("/path/1 must be >= 0 (got -1)")
    expect(errorOf(() => validate("api-doc-put", { path: ["a", 1.5], value: 1 })).detail).toMatch(/^\/path\/1 must be string or integer/)
    expect(errorOf(() => validate("api-doc-put", { path: "/a" })).detail).toBe("/value is required")
    expect(errorOf(() => validate("api-doc-put", { path: "/a", value: 1, message: "m".repeat(501) })).detail).toMatch(
      /^\/message must NOT have more than 500 characters/,
    )
  })

  it("DocDeleteBody", () => {
    expect(isValid("api-doc-delete", { path: ["a"], message: "gone" })).toBe(true)
    expect(errorOf(() => validate("api-doc-delete", { path: "/a", value: 1 })).detail).toMatch(/^\/value is not allowed/)
  })

  it("Problem accepts what the API sends, extension members included", () => {
    const problem = {
      type: "https://fedhub.dev/errors/SCHEMA_INVALID",
      title: ERRORS.SCHEMA_INVALID.title,
      status: 400,
      detail: "/prot is not allowed",
      code: "SCHEMA_INVALID",
      instance: "/api/docs",
      errors: [],
    }
    expect(isValid("problem", problem)).toBe(true)
    expect(isValid("problem", { ...problem, status: 99 })).toBe(false)
  })
})
