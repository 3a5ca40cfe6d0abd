import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { itemKeyHash, SlotTable } from "../../src/marketplace/slotTable.ts"

// The index's slot table (origin code, item id) → slot against a Map, through adds,
// deletes (backward shift), slot reuse and resizes.
describe("the search index's slot table", () => {
  it("finds exactly the held keys through adds, deletes, reused slots and resizes", () => {
    const opArb = fc.oneof(
      { arbitrary: fc.record({ add: fc.integer({ min: 0, max: 3 }), id: fc.integer({ min: 0, max: 3000 }) }), weight: 3 },
      { arbitrary: fc.record({ del: fc.integer({ min: 0, max: 3 }), id: fc.integer({ min: 0, max: 3000 }) }), weight: 2 },
    )
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 3000 }), (ops) => {
        const origin: number[] = []
        const itemId: string[] = []
        const free: number[] = []
        const table = new SlotTable((s, o, id) => origin[s] === o && itemId[s] === id)
        const model = new Map<string, number>()
        let next = 0
        for (const op of ops) {
          const o = "add" in op ? op.add : op.del
          const id = `item-${op.id}`
          const h = itemKeyHash(o, id)
          const held = model.get(`${o}:${id}`)
          expect(table.find(o, id, h)).toBe(held ?? -1)
          if ("add" in op && held === undefined) {
            const slot = free.pop() ?? next++
            origin[slot] = o
            itemId[slot] = id
            table.add(slot, h)
            model.set(`${o}:${id}`, slot)
          } else if ("del" in op && held !== undefined) {
            table.delete(held)
            origin[held] = -1
            free.push(held)
            model.delete(`${o}:${id}`)
          }
        }
        expect(table.size).toBe(model.size)
        for (const [k, slot] of model) {
          const colon = k.indexOf(":")
          const o = Number(k.slice(0, colon))
          const id = k.slice(colon + 1)
          expect(table.find(o, id, itemKeyHash(o, id))).toBe(slot)
        }
      }),
      { numRuns: 40 },
    )
  })
})
