/** problem+json (RFC 9457) responses built from the error table. */
import type { ErrorRequestHandler, Response } from "express"
import { ERRORS, FedhubError, toFedhubError } from "../errors.ts"

/** Sends one FedhubError as problem+json with its table status. */
export function sendProblem(res: Response, err: FedhubError, instance?: string): void {
  res
    .status(err.status)
    .type("application/problem+json")
    .send(
      JSON.stringify({
        type: `https://fedhub.dev/errors/${err.code}`,
        title: ERRORS[err.code].title,
        status: err.status,
        detail: err.detail,
        code: err.code,
        ...problemsOf(err),
        ...(instance ? { instance } : {}),
      }),
    )
}

/** The extension member `problems`: every problem a refused body had (config, item, session, search), for a form to show at its fields. */
function problemsOf(err: FedhubError): { problems?: string[] } {
  const extra = err.extra as { problems?: unknown; failures?: unknown } | undefined
  const list = extra?.problems ?? extra?.failures
  return Array.isArray(list) && list.every(p => typeof p === "string") ? { problems: list } : {}
}

/** Turns anything thrown by a route (or by body parsing) into problem+json. */
export const problemHandler =
  (onInternal: (e: unknown) => void): ErrorRequestHandler =>
  (e, req, res, _next) => {
    let err: FedhubError
    const status = (e as { status?: number; type?: string }).status
    if (e instanceof FedhubError) err = e
    else if ((e as { type?: string }).type === "entity.parse.failed") err = new FedhubError("INVALID_INPUT", `body is not JSON: ${(e as Error).message}`)
    else if (status === 413) err = new FedhubError("FRAME_TOO_LARGE", "request body too large")
    else if (typeof status === "number" && status >= 400 && status < 500) err = new FedhubError("INVALID_INPUT", (e as Error).message)
    else {
      onInternal(e)
      err = toFedhubError(e)
    }
    sendProblem(res, err, req.originalUrl)
  }
