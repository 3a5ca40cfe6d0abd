/**
 * The one JSON body parser of the REST API: a body must say it is JSON (415 otherwise),
 * fit the size limit (413), nest no deeper than the depth limit (422, measured by a
 * linear scan before parsing, so no recursive parser or validator ever sees it) and
 * parse (400). Every refusal is a typed FedhubError, answered as problem+json.
 */
import type { NextFunction, Request, RequestHandler, Response } from "express"
import { FedhubError } from "../errors.ts"

export interface JsonBodyLimits {
  /** Largest body, in bytes. */
  maxBytes: number
  /** Deepest nesting of arrays and objects. */
  maxDepth: number
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/** Parses JSON bodies within the limits; requests without a body get `req.body` undefined. */
export function jsonBody(limits: JsonBodyLimits): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.body !== undefined) return next() // parsed already, by a stricter parser mounted first
    const length = req.headers["content-length"]
    const hasBody = req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0")
    if (!hasBody) return next()
    if (!JSON_TYPE.test(req.headers["content-type"] ?? ""))
      return next(new FedhubError("UNSUPPORTED_MEDIA_TYPE", `a body of type ${JSON.stringify(req.headers["content-type"] ?? "none")} is not application/json`))
    if (length !== undefined && Number(length) > limits.maxBytes)
      return next(new FedhubError("BODY_TOO_LARGE", `the body is ${length} bytes; this hub accepts ${limits.maxBytes}`))
    readBody(req, limits.maxBytes).then(
      text => {
        try {
          checkDepth(text, limits.maxDepth)
          req.body = JSON.parse(text) as unknown
        } catch (e) {
          return next(e instanceof FedhubError ? e : new FedhubError("MALFORMED_JSON", (e as Error).message))
        }
        next()
      },
      (e: unknown) => next(e),
    )
  }
}

/** Reads the body as UTF-8, refusing it as soon as it passes `maxBytes`. */
function readBody(req: Request, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > maxBytes) {
        req.removeAllListeners("data")
        req.resume() // drain without keeping it
        reject(new FedhubError("BODY_TOO_LARGE", `the body is over ${maxBytes} bytes, this hub's limit`))
        return
      }
      chunks.push(chunk)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", e => reject(new FedhubError("MALFORMED_JSON", `the body could not be read: ${e.message}`)))
  })
}

/** Throws TOO_DEEP when `text` (JSON) nests arrays and objects deeper than `maxDepth`; strings are skipped. */
export function checkDepth(text: string, maxDepth: number): void {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) throw new FedhubError("TOO_DEEP", `the body nests deeper than ${maxDepth} levels, this hub's limit`)
    } else if (c === 0x7d || c === 0x5d) depth--
  }
}
