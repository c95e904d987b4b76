/**
 * Hash families for ArbNets: seeded maps from positions `p = i·cols + j` of a
 * layer's virtual weight matrix to slots of its table (slot `tableSize` is
 * the zero slot), with optional signs, sparsity, and occupancy entropy.
 *
 * Pure TypeScript on the CPU. Every per-position quantity is computed from
 * `xxh32U32(p, purposeSeed)` with u32 integer arithmetic only, so the WGSL
 * shaders can recompute the same slots procedurally, bit for bit; the
 * per-position rules are exported (`uniformSlot`, `neighborhoodSlot`,
 * `aliasSlot`, `conv2dSlot`, `recurrentSlot`, `signOf`, `isSparse`) as the
 * reference for that port, together with the seed rule ({@linkcode SEED_PURPOSES}).
 * {@linkcode proceduralHash} packs a layer's seeds for that port.
 *
 * @example
 * ```ts
 * import { hashes, occupancyEntropy } from "./mod.ts";
 * const h = hashes.dirichlet({ alpha: 0.1 });
 * const idx = h.indices({ rows: 784, cols: 1000, tableSize: 98_000, seed: 1 });
 * occupancyEntropy(idx, 98_000); // { nats, normalized }
 * ```
 * @module
 */

export type { Hash, HashDescriptor, IndexSpec } from "./types.ts";
export {
  hashes,
  type HashFactory,
  type HashFamilies,
  hashFamilyNames,
  hashFromDescriptor,
  registeredHashFamilies,
  registerHashFamily,
  type SwapFamilyOptions,
  unregisterHashFamily,
} from "./registry.ts";
export { blocks, type BlocksOptions, tileRanks } from "./blocks.ts";
export { applySwapNoise, descriptorString, swapNoise, type SwapOptions } from "./swap.ts";
export {
  defineHashFamily,
  type HashFamilyDefinition,
  type HashFamilyFactory,
  type HashOptions,
  type HashOptionValue,
  type OptionTypes,
  type SlotSpec,
} from "./user.ts";
export { type CheckedSpec, checkHashOutput } from "./validate.ts";
export { isBuiltinHash } from "./family.ts";
export { isDenseHash } from "./dense.ts";
export { le32, xxh32, xxh32U32 } from "./xxhash32.ts";
export {
  type DerivedSeeds,
  deriveSeed,
  deriveSeeds,
  SEED_PURPOSES,
  type SeedPurpose,
} from "./seeds.ts";
export { applySparsity, isSparse, sparsityThreshold } from "./sparsity.ts";
export { signArray, signOf } from "./sign.ts";
export type { DenseOptions } from "./dense.ts";
export { type UniformOptions, uniformSlot } from "./uniform.ts";
export {
  aliasSlot,
  type AliasTable,
  buildAliasTable,
  type DirichletHash,
  type DirichletOptions,
  dirichletProbabilities,
} from "./dirichlet.ts";
export { MAX_RADIUS, type NeighborhoodOptions, neighborhoodSlot } from "./neighborhood.ts";
export {
  type CustomSlotsKey,
  HASH_PARAM_WORDS,
  hasProceduralForm,
  isProceduralFamily,
  PROCEDURAL_FAMILIES,
  type ProceduralFamily,
  type ProceduralHash,
  proceduralHash,
} from "./procedural.ts";
export {
  type Conv2dGeometry,
  type Conv2dOptions,
  conv2dOutputSize,
  conv2dShape,
  conv2dSlot,
} from "./conv2d.ts";
export {
  type RecurrentGeometry,
  type RecurrentOptions,
  recurrentShape,
  recurrentSlot,
} from "./recurrent.ts";
export {
  countsEntropy,
  digamma,
  type Entropy,
  expectedDirichletEntropy,
  type LayerSlots,
  networkEntropy,
  occupancyEntropy,
  slotCounts,
} from "./entropy.ts";
export { proceduralSlotCounts } from "./occupancy.ts";
