/**
 * How the benches print a spread of per-round values: the median, then the
 * lowest and highest in brackets (rounds interleave the things compared,
 * so a slow spell of a shared VM moves one round, not the median).
 * @module
 */

import { median } from "../lib/experiment/stats.ts";

/** `median (lowest-highest)`, each to `digits` decimals. */
export function medianRange(values: readonly number[], digits = 3): string {
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(values))} (${f(Math.min(...values))}-${f(Math.max(...values))})`;
}
