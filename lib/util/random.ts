/**
 * Seeded pseudo-random numbers for the host side (shuffles, Gamma draws,
 * initialisation). Per-position hashing that the GPU must reproduce does
 * not use this: it uses counter-based xxHash32 in `lib/hash`.
 *
 * Lowest layer: imports nothing.
 * @module
 */

/**
 * A small, fast, seeded generator (SplitMix32 state update + xorshift-multiply
 * output). Same seed → same sequence on every platform.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(42);
 * const u = rng.next(); // in [0, 1)
 * ```
 */
export class Rng {
  #state: number;

  /** @param seed any integer; equal seeds give equal sequences */
  constructor(seed: number) {
    this.#state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal draw (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Shuffles `a` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
