import * as A from "@automerge/automerge"
import { describe, expect, it } from "vitest"
import {
  changeLog,
  conflicts,
  diffDocs,
  docAt,
  formatConflicts,
  formatHeads,
  formatLog,
  formatPatches,
  parseHeads,
} from "../../src/replication/history.ts"
import { fromPlain, setAt } from "../../src/replication/docValues.ts"
import { expectFedhubError } from "../helpers/errors.ts"

const ACTOR_A = "aa".repeat(16)
const ACTOR_B = "bb".repeat(16)
const ACTOR_C = "cc".repeat(16)


type Note = { title?: A.ImmutableString; tags?: A.ImmutableString[]; count?: number; body?: string }

/** Three changes by one actor at known times (seconds), with messages. */
const threeChanges = () => {
  let doc = A.init<Note>(ACTOR_A)
  doc = A.change(doc, { message: "create", time: 1_700_000_000 }, d => {
    d.title = new A.ImmutableString("first")
    d.count = 1
  })
  const h1 = A.getHeads(doc)
  doc = A.change(doc, { message: "tag it", time: 1_700_000_060 }, d => {
    d.tags = [new A.ImmutableString("x"), new A.ImmutableString("y")]
  })
  const h2 = A.getHeads(doc)
  doc = A.change(doc, { message: "rename", time: 1_700_000_120 }, d => {
    d.title = new A.ImmutableString("second")
    delete d.count
  })
  return { doc, h1, h2, h3: A.getHeads(doc) }
}

describe("changeLog", () => {
  it("lists changes newest first with their messages, times in ms and op counts", () => {
    const { doc, h1, h2, h3 } = threeChanges()
    const log = changeLog(doc)
    expect(log.map(e => e.message)).toEqual(["rename", "tag it", "create"])
    expect(log.map(e => e.hash)).toEqual([h3[0], h2[0], h1[0]])
    expect(log.map(e => e.time)).toEqual([1_700_000_120_000, 1_700_000_060_000, 1_700_000_000_000])
    // create: put title, put count; tag it: make list, insert x, insert y; rename: put title, delete count
    expect(log.map(e => e.ops)).toEqual([2, 3, 2])
    expect(log.map(e => e.seq)).toEqual([3, 2, 1])
    expect(log.every(e => e.actor === ACTOR_A)).toBe(true)
    expect(log[0]?.deps).toEqual(h2)
    expect(log[2]?.deps).toEqual([])
  })

  it("counts ops the same way as decoding each change would", () => {
    let doc = A.from<{ t?: string; n?: A.Counter }>({}, ACTOR_A)
    doc = A.change(doc, d => {
      d.t = "hello"
      d.n = new A.Counter(0)
    })
    doc = A.emptyChange(doc, "nothing")
    doc = A.change(doc, d => {
      d.n?.increment(3)
      A.splice(d, ["t"], 0, 2, "J")
    })
    for (const e of changeLog(doc)) expect(e.ops).toBe(A.inspectChange(doc, e.hash)?.ops.length)
    expect(changeLog(doc).find(e => e.message === "nothing")?.ops).toBe(0)
  })

  it("returns only the newest entries when given a limit, and refuses a bad limit", () => {
    const { doc } = threeChanges()
    expect(changeLog(doc, { limit: 2 }).map(e => e.message)).toEqual(["rename", "tag it"])
    expect(changeLog(doc, { limit: 0 })).toEqual([])
    expect(changeLog(doc, { limit: 99 })).toHaveLength(3)
    expectFedhubError(() => changeLog(doc, { limit: -1 }), "INVALID_INPUT")
    expectFedhubError(() => changeLog(doc, { limit: 1.5 }), "INVALID_INPUT")
  })

  it("lists every change of both actors after a merge, each after the changes it depends on", () => {
    const base = A.from<{ a?: number; b?: number; c?: number }>({ c: 0 }, ACTOR_A)
    const left = A.change(A.clone(base, ACTOR_A), d => void (d.a = 1))
    const right = A.change(A.clone(base, ACTOR_B), d => void (d.b = 2))
    const merged = A.merge(left, right)
    const log = changeLog(merged)
    expect(log).toHaveLength(3)
    expect(new Set(log.map(e => e.actor))).toEqual(new Set([ACTOR_A, ACTOR_B]))
    const position = new Map(log.map((e, i) => [e.hash, i]))
    for (const e of log) for (const dep of e.deps) expect(position.get(dep)!).toBeGreaterThan(position.get(e.hash)!)
  })

  it("formats one line per change with a short hash, short actor, ISO time, op count and message", () => {
    const { doc } = threeChanges()
    const text = formatLog(changeLog(doc))
    const lines = text.split("\n")
    expect(lines).toHaveLength(3)
    expect(lines[0]).toContain(changeLog(doc)[0]!.hash.slice(0, 12))
    expect(lines[0]).not.toContain(changeLog(doc)[0]!.hash.slice(0, 13))
    expect(lines[0]).toContain(ACTOR_A.slice(0, 8))
    expect(lines[0]).toContain("2023-11-14T22:15:20.000Z")
    expect(lines[0]).toContain("2 ops")
    expect(lines[0]).toMatch(/rename$/)
    expect(formatLog([])).toBe("no changes")
  })
})

describe("parseHeads", () => {
  const h1 = "a".repeat(64)
  const h2 = "0123456789abcdef".repeat(4)

  it("accepts comma- or space-separated hashes and JSON arrays", () => {
    expect(parseHeads(`${h1},${h2}`)).toEqual([h1, h2])
    expect(parseHeads(` ${h1}  ${h2}\n`)).toEqual([h1, h2])
    expect(parseHeads(`${h1}, ${h2}`)).toEqual([h1, h2])
    expect(parseHeads(JSON.stringify([h1, h2]))).toEqual([h1, h2])
    expect(parseHeads(h1.toUpperCase())).toEqual([h1])
  })

  it("round-trips through formatHeads", () => {
    expect(parseHeads(formatHeads([h1, h2]))).toEqual([h1, h2])
  })

  it("refuses empty input, wrong lengths, non-hex and non-string JSON", () => {
    for (const bad of ["", "   ", ",", "abc", "a".repeat(63), "a".repeat(65), "g".repeat(64), `${h1},zz`, "[]", "[1]", "{}", "[not json", `["${h1}", 3]`])
      expectFedhubError(() => parseHeads(bad), "BAD_HEADS")
  })
})

describe("docAt", () => {
  it("returns the document as it was at earlier heads, as plain JSON", () => {
    const { doc, h1, h2 } = threeChanges()
    expect(docAt(doc, h1)).toEqual({ title: "first", count: 1 })
    expect(docAt(doc, h2)).toEqual({ title: "first", count: 1, tags: ["x", "y"] })
    expect(docAt(doc, A.getHeads(doc))).toEqual({ title: "second", tags: ["x", "y"] })
  })

  it("refuses heads the document does not have with BAD_HEADS naming them", () => {
    const { doc, h1 } = threeChanges()
    const unknown = "f".repeat(64)
    const err = expectFedhubError(() => docAt(doc, [h1[0]!, unknown]), "BAD_HEADS")
    expect(err.detail).toContain(unknown)
    expect(err.detail).not.toContain(h1[0]!)
    expect(err.extra).toEqual({ unknown: [unknown] })
  })

  it("refuses malformed heads with BAD_HEADS instead of an opaque automerge error", () => {
    const { doc } = threeChanges()
    expectFedhubError(() => docAt(doc, ["zz"]), "BAD_HEADS")
    expectFedhubError(() => docAt(doc, "nope" as unknown as string[]), "BAD_HEADS")
  })
})

describe("diffDocs", () => {
  it("lists readable patches between two heads with JSON-pointer paths and plain values", () => {
    const { doc, h1, h3 } = threeChanges()
    const patches = diffDocs(doc, h1, h3)
    expect(patches).toEqual(
      expect.arrayContaining([
        { op: "put", path: "/title", value: "second" },
        { op: "del", path: "/count", length: 1 },
        { op: "put", path: "/tags", value: [] },
        { op: "insert", path: "/tags/0", value: ["x", "y"], length: 2 },
      ]),
    )
    expect(patches).toHaveLength(4)
    expect(diffDocs(doc, h3, h3)).toEqual([])
  })

  it("reports text splices, counter increments and list deletions", () => {
    let doc = A.from<{ t: string; n: A.Counter; l: number[]; when?: Date; raw?: Uint8Array }>(
      { t: "hello", n: new A.Counter(1), l: [1, 2, 3] },
      ACTOR_A,
    )
    const before = A.getHeads(doc)
    doc = A.change(doc, d => {
      A.splice(d, ["t"], 0, 1, "J")
      d.n.increment(4)
      d.l.splice(0, 2)
      d.when = new Date(0)
      d.raw = new Uint8Array([1, 2, 3])
    })
    const patches = diffDocs(doc, before, A.getHeads(doc))
    expect(patches).toEqual(
      expect.arrayContaining([
        { op: "splice", path: "/t/0", value: "J" },
        { op: "del", path: "/t/1", length: 1 },
        { op: "inc", path: "/n", value: 4 },
        { op: "del", path: "/l/0", length: 2 },
        { op: "put", path: "/when", value: "1970-01-01T00:00:00.000Z" },
        { op: "put", path: "/raw", value: "AQID" },
      ]),
    )
    const text = formatPatches(patches)
    expect(text.split("\n")).toHaveLength(patches.length)
    expect(text).toContain('splice  /t/0 "J"')
    expect(text).toContain("inc     /n +4")
    expect(formatPatches([])).toBe("no changes")
  })

  it("escapes '/' and '~' in keys as a JSON pointer does", () => {
    let doc = A.from<Record<string, number>>({}, ACTOR_A)
    const before = A.getHeads(doc)
    doc = A.change(doc, d => void (d["a/b~c"] = 1))
    expect(diffDocs(doc, before, A.getHeads(doc))).toEqual([{ op: "put", path: "/a~1b~0c", value: 1 }])
  })

  it("refuses unknown heads on either side", () => {
    const { doc, h1 } = threeChanges()
    expectFedhubError(() => diffDocs(doc, ["e".repeat(64)], h1), "BAD_HEADS")
    expectFedhubError(() => diffDocs(doc, h1, ["e".repeat(64)]), "BAD_HEADS")
  })
})

describe("conflicts", () => {
  type Shared = {
    title: A.ImmutableString
    body: string
    items: { name: A.ImmutableString; qty: number }[]
    settings: { color: A.ImmutableString }
    a?: number
    b?: number
  }

  /** A base document cloned to two actors who each edit it offline. */
  const forked = () => {
    const base = A.change(A.init<Shared>(ACTOR_A), { time: 1 }, d => {
      Object.assign(
        d,
        fromPlain({ title: "draft", items: [{ name: "bolt", qty: 1 }], settings: { color: "red" } }) as object,
      )
      d.body = "hello world"
    })
    return { left: A.clone(base, ACTOR_A), right: A.clone(base, ACTOR_B) }
  }

  it("finds a field both actors set concurrently, with both values and both actors, and keeps non-conflicting edits", () => {
    let { left, right } = forked()
    left = A.change(left, d => {
      d.title = new A.ImmutableString("left title")
      d.a = 1
      A.splice(d, ["body"], 0, 0, "oh ")
    })
    right = A.change(right, d => {
      d.title = new A.ImmutableString("right title")
      d.b = 2
      A.splice(d, ["body"], 11, 0, "!")
    })
    const merged = A.merge(left, right)
    expect(merged.a).toBe(1)
    expect(merged.b).toBe(2)
    expect(merged.body).toBe("oh hello world!")

    const found = conflicts(merged)
    expect(found).toHaveLength(1)
    const [entry] = found
    expect(entry?.path).toBe("/title")
    expect(entry?.values.map(v => v.value).sort()).toEqual(["left title", "right title"])
    expect(entry?.values.map(v => v.actor).sort()).toEqual([ACTOR_A, ACTOR_B])
    for (const v of entry!.values) expect(v.opId).toMatch(new RegExp(`^\\d+@${v.actor}$`))
    // the first value is the one a plain read shows
    expect(entry?.values[0]?.value).toBe(merged.title.toString())
  })

  it("finds a conflict nested in a map inside a list, and one on a list element", () => {
    let { left, right } = forked()
    left = A.change(left, d => {
      d.items[0]!.qty = 5
      d.settings.color = new A.ImmutableString("blue")
    })
    right = A.change(right, d => {
      d.items[0]!.qty = 7
    })
    let merged = A.merge(left, right)
    let found = conflicts(merged)
    expect(found.map(c => c.path)).toEqual(["/items/0/qty"])
    expect(found[0]?.values.map(v => v.value).sort()).toEqual([5, 7])
    expect(merged.settings.color.toString()).toBe("blue")

    let l2 = A.clone(merged, ACTOR_A)
    let r2 = A.clone(merged, ACTOR_C)
    l2 = A.change(l2, d => void (d.items[0] = fromPlain({ name: "nut", qty: 1 }) as Shared["items"][number]))
    r2 = A.change(r2, d => void (d.items[0] = fromPlain({ name: "screw", qty: 2 }) as Shared["items"][number]))
    merged = A.merge(l2, r2)
    found = conflicts(merged)
    const listEntry = found.find(c => c.path === "/items/0")
    expect(listEntry?.values.map(v => v.value)).toEqual(
      expect.arrayContaining([{ name: "nut", qty: 1 }, { name: "screw", qty: 2 }]),
    )
    expect(listEntry?.values.map(v => v.actor).sort()).toEqual([ACTOR_A, ACTOR_C])
    expect(listEntry?.values[0]?.value).toEqual({ name: merged.items[0]!.name.toString(), qty: merged.items[0]!.qty })
  })

  it("descends into the shown value of a conflicted field to find conflicts below it", () => {
    let { left, right } = forked()
    left = A.change(left, d => void (d.settings = fromPlain({ color: "green" }) as Shared["settings"]))
    right = A.change(right, d => void (d.settings = fromPlain({ color: "pink" }) as Shared["settings"]))
    let merged = A.merge(left, right)
    // now two more actors edit the same key of the shown settings object concurrently
    let l2 = A.change(A.clone(merged, ACTOR_A), d => void (d.settings.color = new A.ImmutableString("one")))
    let r2 = A.change(A.clone(merged, ACTOR_C), d => void (d.settings.color = new A.ImmutableString("two")))
    merged = A.merge(l2, r2)
    const paths = conflicts(merged).map(c => c.path)
    expect(paths).toEqual(["/settings", "/settings/color"])
  })

  it("reports nothing for a document without concurrent writes, and formats both cases", () => {
    const { doc } = threeChanges()
    expect(conflicts(doc)).toEqual([])
    expect(formatConflicts([])).toBe("no conflicts")

    let { left, right } = forked()
    left = A.change(left, d => void (d.title = new A.ImmutableString("L")))
    right = A.change(right, d => void (d.title = new A.ImmutableString("R")))
    const text = formatConflicts(conflicts(A.merge(left, right)))
    const lines = text.split("\n")
    expect(lines[0]).toBe("/title")
    expect(lines).toHaveLength(3)
    expect(lines.slice(1).every(l => l.startsWith("  "))).toBe(true)
    expect(text).toContain(ACTOR_A.slice(0, 8))
    expect(text).toContain(ACTOR_B.slice(0, 8))
  })

  it("shows a conflict as a put patch flagged conflict in the diff that merges it", () => {
    let { left, right } = forked()
    left = A.change(left, d => setAt(d, ["title"], fromPlain("L")))
    right = A.change(right, d => setAt(d, ["title"], fromPlain("R")))
    const merged = A.merge(left, right)
    const patches = diffDocs(merged, A.getHeads(left), A.getHeads(merged))
    expect(patches.some(p => p.path === "/title" && p.conflict === true)).toBe(true)
  })
})
