/**
 * User hash families: a family defined by its slot rule, one position at a
 * time, in TypeScript (and optionally in WGSL, for procedural layers). The
 * library wraps the rule in the scaffolding every built-in uses, so spec
 * checks, sparsity and signs mean exactly what they mean for the built-ins;
 * `registerHashFamily` then makes the family known by name (checkpoints,
 * CLI, `view-hash`, experiments).
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { assembleHash } from "./family.ts";
import { checkUserFamilyName } from "./registry.ts";
import { deriveSeed } from "./seeds.ts";
import { signOf } from "./sign.ts";
import { isSparse, sparsityThreshold } from "./sparsity.ts";
import type { Hash, IndexSpec } from "./types.ts";
import { type CheckedSpec, checkKeys, checkSpec, describePosition } from "./validate.ts";

/** A hash option's value: options must stay JSON-safe (they go into checkpoints and logs). */
export type HashOptionValue = number | string | boolean;

/** A family's options, by name. */
export type HashOptions = Record<string, HashOptionValue>;

/**
 * A family's option types as its callbacks and factory see them: the types
 * of the defaults, widened (`{ block: 2, sign: false }` takes any number and
 * any boolean).
 */
export type OptionTypes<O extends HashOptions> = {
  [K in keyof O]: O[K] extends boolean ? boolean : O[K] extends number ? number : string;
};

/** What a slot rule sees of the layer: the checked spec and the family's slot seed. */
export interface SlotSpec extends CheckedSpec {
  /**
   * `deriveSeed("slot", seed)`: the seed for the rule's own randomness (in
   * WGSL: `hash_params.slot_seed`). Sparsity and signs use their own seeds.
   */
  slotSeed: number;
}

/**
 * A user hash family: its name, its options and its slot rule. The
 * library applies sparsity (sparse positions go to the zero slot whatever
 * the rule says) and the sign hash on top, as for every built-in.
 */
export interface HashFamilyDefinition<O extends HashOptions> {
  /** The family's name: a letter, then letters, digits, `_`, `-`; not a built-in's. */
  name: string;
  /**
   * Every option with its default; a user's option must have the default's
   * type (number, string or boolean), and unknown keys are refused.
   */
  defaults: O;
  /** Checks option values (ranges etc.); throw an `ArbnetError` naming the bad one. */
  checkOptions?: (options: OptionTypes<O>) => void;
  /** Checks a layer's spec for this family (e.g. a shape it needs); throw an `ArbnetError`. */
  checkSpec?: (spec: SlotSpec, options: OptionTypes<O>) => void;
  /** Whether the hash has the sign hash `ξ(p)`: a constant or read from the options. Default false. */
  sign?: boolean | ((options: OptionTypes<O>) => boolean);
  /**
   * The slot of position `p = i·cols + j` (`i` the input feature, `j` the
   * output): an integer in `[0, tableSize]`, `tableSize` being the zero
   * slot. Must depend only on `p`, the spec and the options.
   */
  slot: (p: number, spec: SlotSpec, options: OptionTypes<O>) => number;
  /**
   * The same rule in WGSL, for procedural layers (`procedural: true`): the
   * source of `fn family_slot(p: u32) -> u32`, which may read
   * `hash_params.table_size`, `.slot_seed`, `.rows`, `.cols` and call
   * `xxh32_u32(p, seed)` (the same as `xxh32U32`). Options are baked in by
   * making this a function of them. Checked against {@linkcode slot} on a
   * sample of positions before the layer trains.
   */
  wgsl?: string | ((options: OptionTypes<O>) => string);
}

/** A user family's factory, as {@linkcode defineHashFamily} returns it. */
export interface HashFamilyFactory<O extends HashOptions> {
  /** Builds a hash; missing options take their defaults. */
  (options?: Partial<OptionTypes<O>>): Hash;
  /** The family's name. */
  readonly familyName: string;
}

/** What a procedural layer needs of a user family: its WGSL and its rule, per position. */
export interface UserProcedural {
  /** The WGSL source of `fn family_slot(p: u32) -> u32`. */
  wgsl: string;
  /** Whether the hash has the sign hash. */
  sign: boolean;
  /** The slot words (slot | sign bit) of some positions, as the shader must compute them. */
  slotWords(positions: Uint32Array, spec: IndexSpec): Uint32Array;
}

const procedurals = new WeakMap<Hash, UserProcedural>();

/**
 * The WGSL form of a user family's hash, or null when it has none (or is
 * not a user family's).
 *
 * @param hash any hash
 * @returns its WGSL rule and per-position reference, or null
 */
export function userProcedural(hash: Hash): UserProcedural | null {
  return procedurals.get(hash) ?? null;
}

function checkOptionTypes<O extends HashOptions>(
  name: string,
  defaults: O,
  given: unknown,
): OptionTypes<O> {
  const what = `options of hash family ${JSON.stringify(name)}`;
  const rec = checkKeys(what, given, Object.keys(defaults));
  const out: HashOptions = { ...defaults };
  for (const [key, value] of Object.entries(rec)) {
    if (value === undefined) continue;
    const want = typeof defaults[key];
    if (typeof value !== want || (want === "number" && !Number.isFinite(value))) {
      throw new ArbnetError(
        `invalid option ${key} of hash family ${JSON.stringify(name)}: ${
          JSON.stringify(value)
        } (expected a${want === "number" ? " finite" : ""} ${want}, like its default ${
          JSON.stringify(defaults[key])
        })`,
      );
    }
    out[key] = value as HashOptionValue;
  }
  return out as OptionTypes<O>;
}

function checkDefaults(name: string, defaults: unknown): void {
  if (defaults === null || typeof defaults !== "object" || Array.isArray(defaults)) {
    throw new ArbnetError(
      `hash family ${JSON.stringify(name)}: defaults must be an object of option defaults ` +
        "({} for none)",
    );
  }
  for (const [key, value] of Object.entries(defaults)) {
    const ok = typeof value === "boolean" || typeof value === "string" ||
      (typeof value === "number" && Number.isFinite(value));
    if (!ok) {
      throw new ArbnetError(
        `hash family ${JSON.stringify(name)}: the default of option ${key} is ` +
          `${JSON.stringify(value) ?? String(value)}; options must be finite numbers, strings ` +
          "or booleans (they are stored as JSON)",
      );
    }
  }
}

/** Calls the rule for `p`, refusing anything but an integer in `[0, K]`. */
function checkedSlot<O extends HashOptions>(
  def: HashFamilyDefinition<O>,
  p: number,
  spec: SlotSpec,
  options: OptionTypes<O>,
): number {
  const v = def.slot(p, spec, options);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > spec.tableSize) {
    throw new ArbnetError(
      `the ${JSON.stringify(def.name)} hash's slot rule gave ${
        describePosition(p, spec.cols)
      } the slot ${String(v)}, expected an integer in [0, ${spec.tableSize}] ` +
        `(tableSize ${spec.tableSize}; slot ${spec.tableSize} is the zero slot)`,
    );
  }
  return v;
}

/**
 * Defines a hash family from its slot rule. The returned factory validates
 * options against `defaults` and builds hashes that behave like the
 * built-ins' (spec checks, sparsity, signs, descriptor); register it with
 * `registerHashFamily(name, factory)` to use it by name.
 *
 * @param def the family's name, option defaults and slot rule
 * @returns the family's factory
 * @throws ArbnetError for a built-in's or a malformed name, or bad defaults
 *
 * @example Pixel blocks: the 2×2 neighbours of a 28×28 image share a slot per output
 * ```ts
 * import { defineHashFamily, registerHashFamily } from "./mod.ts";
 * const pixelBlocks = defineHashFamily({
 *   name: "pixelBlocks",
 *   defaults: { width: 28, block: 2 },
 *   slot(p, s, o) {
 *     const i = Math.floor(p / s.cols), j = p % s.cols;
 *     const bw = Math.ceil(o.width / o.block);
 *     const b = Math.floor(Math.floor(i / o.width) / o.block) * bw +
 *       Math.floor((i % o.width) / o.block);
 *     return (b * s.cols + j) % s.tableSize;
 *   },
 * });
 * registerHashFamily("pixelBlocks", pixelBlocks);
 * pixelBlocks({ block: 4 }).indices({ rows: 784, cols: 10, tableSize: 490, seed: 1 });
 * ```
 */
export function defineHashFamily<O extends HashOptions>(
  def: HashFamilyDefinition<O>,
): HashFamilyFactory<O> {
  if (def === null || typeof def !== "object") {
    throw new ArbnetError("defineHashFamily needs { name, defaults, slot }");
  }
  const name = checkUserFamilyName(def.name);
  checkDefaults(name, def.defaults);
  if (typeof def.slot !== "function") {
    throw new ArbnetError(
      `hash family ${JSON.stringify(name)} has no slot rule: give slot(p, spec, options)`,
    );
  }
  const wgslType = typeof def.wgsl;
  if (def.wgsl !== undefined && wgslType !== "string" && wgslType !== "function") {
    throw new ArbnetError(
      `hash family ${JSON.stringify(name)}: wgsl must be a string or (options) => string`,
    );
  }
  const factory = (given?: Partial<OptionTypes<O>>): Hash => {
    const options = checkOptionTypes(name, def.defaults, given);
    def.checkOptions?.(options);
    const sign = typeof def.sign === "function" ? def.sign(options) === true : def.sign === true;
    const slotSpec = (s: CheckedSpec): SlotSpec => ({ ...s, slotSeed: deriveSeed("slot", s.seed) });
    const hash = assembleHash({
      family: name,
      options,
      sign,
      check: def.checkSpec ? (s) => def.checkSpec!(slotSpec(s), options) : undefined,
      fill(s, out) {
        const spec = slotSpec(s);
        for (let p = 0; p < s.n; p++) out[p] = checkedSlot(def, p, spec, options);
      },
    });
    if (def.wgsl !== undefined) {
      const wgsl = typeof def.wgsl === "function" ? def.wgsl(options) : def.wgsl;
      if (typeof wgsl !== "string" || !/\bfn\s+family_slot\s*\(/.test(wgsl)) {
        throw new ArbnetError(
          `hash family ${JSON.stringify(name)}: its wgsl must define ` +
            "fn family_slot(p: u32) -> u32",
        );
      }
      procedurals.set(hash, { wgsl, sign, slotWords: wordRule(def, options, sign) });
    }
    return hash;
  };
  return Object.assign(factory, { familyName: name });
}

/**
 * Some positions' slot words under a user family (slot | sign bit), by the
 * rule the shaders' `slot_word` applies: sparse positions take the zero
 * slot, the sign bit comes from the sign hash. O(1) per position, so a
 * procedural layer can be checked without evaluating all of it.
 */
function wordRule<O extends HashOptions>(
  def: HashFamilyDefinition<O>,
  options: OptionTypes<O>,
  sign: boolean,
): UserProcedural["slotWords"] {
  return (positions, spec) => {
    const s = checkSpec(spec);
    const slotSpec = { ...s, slotSeed: deriveSeed("slot", s.seed) };
    def.checkSpec?.(slotSpec, options);
    const threshold = sparsityThreshold(s.sparsity);
    const sparsitySeed = deriveSeed("sparsity", s.seed);
    const signSeed = deriveSeed("sign", s.seed);
    return positions.map((p) => {
      const sparse = threshold !== 0 && isSparse(p, sparsitySeed, threshold);
      const slot = sparse ? s.tableSize : checkedSlot(def, p, slotSpec, options);
      return sign && signOf(p, signSeed) < 0 ? (slot | 0x80000000) >>> 0 : slot;
    });
  };
}
