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

/**
 * Milliseconds to three significant digits: a GPU's kernels and steps take
 * hundredths of what a CPU adapter's do, which two fixed decimals print as 0.
 */
export function msText(ms: number): string {
  return ms >= 1000 ? ms.toFixed(0) : ms.toPrecision(3);
}
