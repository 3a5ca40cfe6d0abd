/** Session routes (issue 14): a thin face over `hub.sessions`; bodies checked against schemas/api-session-*.schema.json. */
import { Router, type Response } from "express"
import type { Hub } from "../../hub/Hub.ts"
import type { MessageView } from "../../collaboration/SessionService.ts"
import {
  validate,
  type SessionAgreementBody,
  type SessionCreateBody,
  type SessionDocumentBody,
  type SessionEditBody,
  type SessionInviteBody,
  type SessionProposeBody,
  type SessionRateBody,
  type SessionRespondBody,
  type SessionSendBody,
  type SessionTransitionBody,
  type SessionVerifyBody,
  type SessionVoteBody,
} from "../../schema/index.ts"

const sse = (res: Response, event: string, data: unknown): void => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

export function sessionRoutes(hub: Hub): Router {
  const r = Router()
  const s = hub.sessions
  const ref = (p: Record<string, unknown>): string => String(p.ref)
  const body = <T>(schema: Parameters<typeof validate>[0], b: unknown): T => validate<T>(schema, b ?? {})
  r.post("/", async (req, res) => void res.status(201).json(await s.create(body<SessionCreateBody>("api-session-create", req.body))))
  r.get("/", (_req, res) => void res.json(s.list()))
  r.get("/invites", (_req, res) => void res.json(s.invites()))
  r.get("/:ref", async (req, res) => void res.json(await s.show(ref(req.params))))
  r.post("/:ref/join", async (req, res) => void res.json(await s.join(ref(req.params), body<SessionRespondBody>("api-session-respond", req.body))))
  r.post("/:ref/decline", async (req, res) => void res.json(await s.decline(ref(req.params), body<SessionRespondBody>("api-session-respond", req.body))))
  r.post("/:ref/invites", async (req, res) => void res.status(201).json(await s.invite(ref(req.params), body<SessionInviteBody>("api-session-invite", req.body))))
  for (const action of ["pause", "resume", "close"] as const)
    r.post(`/:ref/${action}`, async (req, res) => {
      const b = body<SessionTransitionBody>("api-session-transition", req.body)
      const to = action === "close" ? (b.fail ? "fail" : "complete") : action
      res.json(await s.transition(ref(req.params), to, { reason: b.reason }))
    })
  r.get("/:ref/messages", async (req, res) => void res.json(await s.messages(ref(req.params))))
  r.post("/:ref/messages", async (req, res) => void res.status(201).json(await s.send(ref(req.params), body<SessionSendBody>("api-session-send", req.body))))
  r.get("/:ref/stream", async (req, res) => {
    const session = await s.show(ref(req.params)) // NOT_A_READER / DOC_NOT_FOUND before the stream opens
    res.status(200).set({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no", connection: "keep-alive" })
    res.flushHeaders()
    res.write("retry: 2000\n\n")
    const onMessage = (id: string, m: MessageView) => id === session.documentId && sse(res, "message", m)
    const onUpdate = (id: string) => {
      if (id !== session.documentId) return
      const summary = s.list().sessions.find(x => x.documentId === id)
      if (summary) sse(res, "session", summary)
    }
    s.events.on("message", onMessage)
    s.events.on("updated", onUpdate)
    req.on("close", () => {
      s.events.off("message", onMessage)
      s.events.off("updated", onUpdate)
    })
    sse(res, "session", s.list().sessions.find(x => x.documentId === session.documentId) ?? null)
  })
  r.post("/:ref/documents", async (req, res) => void res.status(201).json(await s.createDocument(ref(req.params), body<SessionDocumentBody>("api-session-document", req.body))))
  r.get("/:ref/documents/:doc", async (req, res) => void res.json(await s.document(ref(req.params), String(req.params.doc))))
  r.post("/:ref/documents/:doc/edit", async (req, res) => void res.json(await s.edit(ref(req.params), String(req.params.doc), body<SessionEditBody>("api-session-edit", req.body))))
  r.post("/:ref/proposals", async (req, res) => void res.status(201).json(await s.propose(ref(req.params), body<SessionProposeBody>("api-session-propose", req.body))))
  r.post("/:ref/proposals/:id/votes", async (req, res) => void res.status(201).json(await s.vote(ref(req.params), String(req.params.id), body<SessionVoteBody>("api-session-vote", req.body))))
  r.get("/:ref/agreements", async (req, res) => void res.json(await s.agreements(ref(req.params))))
  r.post("/:ref/agreements", async (req, res) => void res.status(201).json(await s.agree(ref(req.params), body<SessionAgreementBody>("api-session-agreement", req.body))))
  r.post("/:ref/agreements/:id/sign", async (req, res) => void res.status(201).json(await s.sign(ref(req.params), String(req.params.id))))
  r.post("/:ref/agreements/:id/verify", async (req, res) => void res.json(await s.verify(ref(req.params), String(req.params.id), body<SessionVerifyBody>("api-session-verify", req.body))))
  r.post("/:ref/ratings", async (req, res) => void res.status(201).json(await s.rate(ref(req.params), body<SessionRateBody>("api-session-rate", req.body))))
  return r
}
