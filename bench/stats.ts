/** Small helpers for benches: percentiles and a printed table. */

/** The q-quantile (0..1) of a list of numbers, nearest-rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]!
}

export const ms = (n: number): string => `${n.toFixed(2)} ms`

/** Prints rows as an aligned text table. */
export function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map(r => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map(r => (r[i] ?? "").length)))
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")
  console.log(`\n${title}`)
  console.log(line(header))
  console.log(widths.map(w => "-".repeat(w)).join("  "))
  for (const r of cells.slice(1)) console.log(line(r))
}

/** Times an async function in milliseconds. */
export async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}
