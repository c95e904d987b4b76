/**
 * Checkpoints of a network and its optimizer as safetensors files.
 *
 * Stored: every parameter's trainable values (tables without their zero
 * slot, biases), the optimizer's state buffers, and in `__metadata__` (JSON
 * strings): the format version, the network structure with every ArbLinear's
 * config, the optimizer kind, hyper-parameters and step count, the caller's
 * training progress, a SHA-256 of the data section and one of the rest of
 * the header, so a flipped bit cannot silently change the model. Slot indices are not
 * stored: they are regenerated from the hash, which is seeded and
 * reproducible bit for bit, so a checkpoint costs only the table and bias.
 *
 * Loading restores into an existing network whose architecture must match
 * exactly (else an {@linkcode ArbnetError} names what differs) and validates
 * everything before touching the GPU, so a failed load leaves the network as
 * it was. Writes go to `<path>.tmp-<pid>` and are renamed into place, so a
 * crash mid-write keeps the previous checkpoint.
 *
 * Over ~350 lines on purpose: saving, reading and loading mirror each other field by field and are
 * checked against one format (the container itself is `safetensors.ts`).
 *
 * Layer: io; imports `lib/gpu`, `lib/hash`, `lib/nn`, `lib/optim`,
 * `lib/io/safetensors.ts` and `node:crypto`.
 * @module
 */

import { createHash } from "node:crypto";
import type { Gpu } from "../gpu/device.ts";
import { ArbnetError } from "../errors.ts";
import { hashes, hashFromDescriptor } from "../hash/registry.ts";
import { isBuiltinHash } from "../hash/family.ts";
import { ArbLinear, type ArbLinearConfig } from "../nn/arb_linear.ts";
import { ReLU, Sequential, Tanh } from "../nn/layers.ts";
import { RNN } from "../nn/rnn.ts";
import { ChannelBias } from "../nn/channel_bias.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  parseSafetensorsHeader,
  type Safetensors,
  tensorF32,
  type TensorInput,
} from "./safetensors.ts";
import { stageStateLoad, stateDict } from "./state_dict.ts";
import { writeFileAtomic } from "./files.ts";
import { layersWithOwn, type RecordedLayer } from "./layers.ts";
import type { Tile } from "../../shaders/matmul.ts";
import type { TileMode } from "../../shaders/matmul_tune.ts";

/** Value of the `format` metadata key. */
export const CHECKPOINT_FORMAT = "arbnet.checkpoint";
/** Version of the checkpoint layout written by {@linkcode saveCheckpoint}. */
export const CHECKPOINT_VERSION = 1;

/**
 * One entry of a checkpointed network structure, in order. Weight tying is
 * recorded, so a load rebuilds it: `sameAs` names the earlier entry whose
 * very module is used again here (a module used several times), `tableOf`
 * the earlier ArbLinear whose table this layer shares. An RNN is one entry
 * holding the configurations of its input and recurrent layers.
 */
export type LayerRecord =
  | { kind: "arblinear"; config: ArbLinearConfig; sameAs?: number; tableOf?: number }
  | { kind: "relu" }
  | { kind: "tanh" }
  | { kind: "channelbias"; channels: number; pixels: number; sameAs?: number }
  | {
    kind: "rnn";
    steps: number;
    input: ArbLinearConfig;
    recurrent: ArbLinearConfig;
    sameAs?: number;
  }
  | {
    /** A module of the user's own: its class name and its parameters' sizes. */
    kind: "module";
    type: string;
    parameters: number[];
    sameAs?: number;
  };

/** The optimizer as recorded in a checkpoint. */
export interface OptimizerRecord {
  /** `"sgd"`, `"adam"`, or the class name of another optimizer. */
  kind: string;
  /** Learning rate at save time. */
  learningRate: number;
  /** Hyper-parameters the caller supplied (the optimizers keep theirs private). */
  options: Record<string, number | boolean>;
  /** Completed steps (Adam's bias corrections depend on it). */
  steps: number;
  /** State buffers in `stateBuffers()` order: their names at save time and sizes. */
  state: { name: string; size: number }[];
}

/** Caller-supplied training progress; `epoch` and `step` are the conventional keys. */
export interface CheckpointProgress {
  /** Last completed epoch (0-based). */
  epoch?: number;
  /** Completed optimizer steps, or steps inside the epoch: the caller decides. */
  step?: number;
  /** Anything else JSON-safe. */
  [key: string]: unknown;
}

/** What {@linkcode readCheckpointInfo} returns: a checkpoint's metadata, without its tensors. */
export interface CheckpointInfo {
  /** Layout version. */
  version: number;
  /** The network structure: enough to rebuild it with {@linkcode buildFromCheckpoint}. */
  layers: LayerRecord[];
  /** The optimizer, if one was saved. */
  optimizer: OptimizerRecord | null;
  /** The caller's progress record (`{}` when none was given). */
  progress: CheckpointProgress;
  /** `sha256:<hex>` of the data section (the header has its own, checked on read). */
  checksum: string;
  /** When the file was written (ISO 8601). */
  created: string;
  /** Stored tensors, in file order. */
  tensors: { name: string; dtype: string; shape: number[] }[];
}

/** Options of {@linkcode saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * The network: a Sequential (or one layer) of ArbLinear, ChannelBias, RNN,
   * ReLU and Tanh layers and modules of your own; yours are recorded by class
   * name and parameter sizes, so only `loadCheckpoint` into a network your
   * code built restores them (`buildFromCheckpoint` refuses them); what is
   * inside such a module beyond those (an ArbLinear's hash or seed) is not
   * checked, so build the same network.
   */
  net: Module;
  /** The optimizer whose state to store. */
  opt?: Optimizer;
  /** The optimizer's hyper-parameters, recorded for reference (e.g. `{ momentum: 0.9 }`). */
  optimizerOptions?: Record<string, number | boolean>;
  /** Training progress, e.g. `{ epoch, step }`. */
  extra?: CheckpointProgress;
}

/** Options of {@linkcode loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** The network to restore into; its architecture must match the checkpoint's. */
  net: Module;
  /** The optimizer to restore (same kind and parameter shapes as saved). */
  opt?: Optimizer;
}

/** Options of {@linkcode buildFromCheckpoint}. */
export interface BuildFromCheckpointOptions {
  /** Register tile of the matmuls, `"auto"` or `"tune"` (see `ArbLinearOptions.tile`); the portable default when absent. */
  tile?: Tile | TileMode;
  /** Load the stored parameter values into the new network. Default true. */
  loadWeights?: boolean;
  /** Build procedural layers (slots recomputed in the shaders; same slots). Default false. */
  procedural?: boolean;
}

/** A network rebuilt from a checkpoint. */
export interface RebuiltNetwork {
  /** The network. */
  net: Sequential;
  /** Its ArbLinear layers, in order (an RNN's input and recurrent layers among them). */
  layers: ArbLinear[];
  /** The checkpoint's metadata. */
  info: CheckpointInfo;
}

/** A layer a checkpoint records: one of the library's, or a module of the user's own. */
type Layer = RecordedLayer | Module;

/** The network as an ordered list of its layers (nested Sequentials flattened). */
function flatten(net: Module): Layer[] {
  return layersWithOwn(net);
}

function describe(layers: Layer[]): LayerRecord[] {
  const tables = new Map<unknown, number>();
  return layers.map((l, i): LayerRecord => {
    const first = layers.indexOf(l);
    const sameAs = first < i && !(l instanceof ReLU) ? { sameAs: first } : {};
    if (l instanceof ArbLinear) {
      const owner = tables.get(l.table);
      if (owner === undefined) tables.set(l.table, i);
      // A reused module is rebuilt as itself, its table with it.
      const tableOf = owner !== undefined && first === i ? { tableOf: owner } : {};
      return { kind: "arblinear", config: structuredClone(l.config), ...sameAs, ...tableOf };
    }
    if (l instanceof ChannelBias) {
      return { kind: "channelbias", channels: l.channels, pixels: l.pixels, ...sameAs };
    }
    if (l instanceof RNN) {
      const { input, recurrent, steps } = l;
      return {
        kind: "rnn",
        steps,
        input: structuredClone(input.config),
        recurrent: structuredClone(recurrent.config),
        ...sameAs,
      };
    }
    if (l instanceof ReLU || l instanceof Tanh) {
      return { kind: l instanceof Tanh ? "tanh" : "relu" };
    }
    // A module of the user's own: a load needs their code to rebuild it.
    const parameters = l.parameters().map((p) => p.size);
    return { kind: "module", type: l.constructor.name, parameters, ...sameAs };
  });
}

/**
 * The ArbLinear modules of the layers, an RNN's two among them, each with
 * where it sits: `layer <i>`, or `layer <i>'s input`/`recurrent layer` for
 * an RNN's. A layer used again (the same module later in the list) is
 * listed at its first place only.
 */
function linearsOf(layers: readonly Layer[]): { linear: ArbLinear; where: string }[] {
  return layers.flatMap((l, i) =>
    layers.indexOf(l) !== i
      ? []
      : l instanceof ArbLinear
      ? [{ linear: l, where: `layer ${i} (${l.name})` }]
      : l instanceof RNN
      ? [
        { linear: l.input, where: `layer ${i}'s input (${l.input.name})` },
        { linear: l.recurrent, where: `layer ${i}'s recurrent layer (${l.recurrent.name})` },
      ]
      : []
  );
}

/**
 * Refuses to save a layer whose hash a load would rebuild as something
 * else: hashes are rebuilt by name, so a hand-made hash carrying a
 * built-in's name would come back as that built-in, a different network.
 */
function checkRebuildable(layers: readonly Layer[]): void {
  checkRnnTables(layers);
  for (const { linear: l, where } of linearsOf(layers)) {
    const family = l.hash.family;
    if (Object.hasOwn(hashes, family) && !isBuiltinHash(l.hash)) {
      throw new ArbnetError(
        `${where} has a hand-made hash named ${JSON.stringify(family)}, a ` +
          `built-in's name: loading the checkpoint would rebuild the built-in ${family} hash ` +
          "instead. Define your family with defineHashFamily under a name of its own and " +
          "register it (registerHashFamily)",
      );
    }
  }
}

/**
 * Refuses an RNN whose layers share a table with any other layer (ties
 * inside an RNN are not recorded; a whole RNN used again is).
 */
function checkRnnTables(layers: readonly Layer[]): void {
  // Per table, every place a module on it is used (a module inside an RNN
  // and also a layer of its own counts twice).
  const uses = new Map<unknown, string[]>();
  for (const { linear, where } of linearsOf(layers)) {
    uses.set(linear.table, [...(uses.get(linear.table) ?? []), where]);
  }
  for (const l of layers) {
    if (!(l instanceof RNN)) continue;
    for (const part of [l.input, l.recurrent]) {
      const places = uses.get(part.table)!;
      if (places.length > 1) {
        throw new ArbnetError(
          `cannot checkpoint ${places.join(" and ")}: they share one table, and a ` +
            "checkpoint records ties between whole layers only (an RNN's two layers must own " +
            "their tables and be used nowhere else)",
        );
      }
    }
  }
}

function sha256(parts: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return `sha256:${h.digest("hex")}`;
}

/**
 * Digest of everything in the header but itself: the metadata (which holds
 * the data checksum) and the tensor list in file order, which with the
 * contiguity rule fixes every byte range. Catches a header bit flip that
 * still parses, e.g. in a seed.
 */
function headerDigest(
  metadata: Record<string, string>,
  tensors: { name: string; dtype: string; shape: number[] }[],
): string {
  const meta = Object.fromEntries(
    Object.entries(metadata).filter(([k]) => k !== "header_checksum"),
  );
  return sha256([new TextEncoder().encode(canonical({ metadata: meta, tensors }))]);
}

/** Index of the first NaN or infinity in `a`, or −1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!(a[i] > -Infinity && a[i] < Infinity)) return i;
  return -1;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Saves a network (and optionally its optimizer) to `path`, atomically.
 * A model holding a NaN or an infinity (a diverged run) is refused before
 * anything is written, so the previous checkpoint at `path` stays the last
 * good one.
 *
 * @example
 * ```ts ignore
 * await saveCheckpoint("out/run.safetensors", { net, opt, extra: { epoch: 3, step: opt.steps } });
 * ```
 */
export async function saveCheckpoint(path: string, options: SaveCheckpointOptions): Promise<void> {
  const layers = flatten(options.net);
  checkRebuildable(layers);
  // The tensors are the state dict's, under its names.
  const dict = await stateDict(options.net, options.opt);
  const tensors: Record<string, TensorInput> = {};
  for (const [name, data] of Object.entries({ ...dict.parameters, ...dict.optimizer?.buffers })) {
    tensors[name] = { data, shape: [data.length] };
  }
  let optimizer: OptimizerRecord | null = null;
  if (options.opt && dict.optimizer) {
    optimizer = {
      kind: dict.optimizer.kind,
      learningRate: dict.optimizer.learningRate,
      options: { ...options.optimizerOptions },
      steps: dict.optimizer.steps,
      state: options.opt.stateBuffers().map((s) => ({ name: s.name, size: s.size })),
    };
  }
  for (const [name, t] of Object.entries(tensors)) {
    const at = firstNonFinite(t.data as Float32Array);
    if (at >= 0) {
      throw new ArbnetError(
        `refusing to save checkpoint ${path}: tensor ${name} holds ${
          (t.data as Float32Array)[at]
        } at index ${at} (the model has diverged); the file was not touched`,
      );
    }
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    network: JSON.stringify({ layers: describe(layers) }),
    progress: JSON.stringify(options.extra ?? {}),
    checksum: sha256(Object.values(tensors).map((t) => bytesOf(t.data as Float32Array))),
    created: new Date().toISOString(),
  };
  if (optimizer) metadata.optimizer = JSON.stringify(optimizer);
  metadata.header_checksum = headerDigest(
    metadata,
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: "F32", shape: [...t.shape] })),
  );
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata), "checkpoint");
}

function parseJson(meta: Record<string, string>, key: string, source: string): unknown {
  const text = meta[key];
  if (text === undefined) {
    throw new ArbnetError(`${source} has no "${key}" metadata: not an arbnet checkpoint`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ArbnetError(`${source}: the "${key}" metadata is not valid JSON`);
  }
}

/** Checks the format keys and parses the metadata of a checkpoint's header. */
function parseInfo(
  metadata: Record<string, string>,
  tensors: { name: string; dtype: string; shape: number[] }[],
  source: string,
): CheckpointInfo {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new ArbnetError(
      `${source} is a safetensors file but not an arbnet checkpoint ` +
        `(metadata format is ${JSON.stringify(metadata.format ?? null)})`,
    );
  }
  const headerChecksum = headerDigest(metadata, tensors);
  if (metadata.header_checksum !== headerChecksum) {
    throw new ArbnetError(
      `${source} is corrupt: its header checksum is ${headerChecksum}, the header records ` +
        `${metadata.header_checksum ?? "none"}`,
    );
  }
  const version = Number(metadata.format_version);
  if (version !== CHECKPOINT_VERSION) {
    throw new ArbnetError(
      `${source} has checkpoint format version ${metadata.format_version}; this arbnet reads ` +
        `version ${CHECKPOINT_VERSION}`,
    );
  }
  const network = parseJson(metadata, "network", source) as { layers?: unknown };
  if (!network || !Array.isArray(network.layers)) {
    throw new ArbnetError(`${source}: the network metadata has no layer list`);
  }
  for (const [i, l] of (network.layers as LayerRecord[]).entries()) {
    // A tie names an earlier entry of the same kind.
    const earlier = (k: unknown, kind: string) =>
      k === undefined ||
      (Number.isSafeInteger(k) && (k as number) >= 0 && (k as number) < i &&
        (network.layers as LayerRecord[])[k as number]?.kind === kind);
    const tiesOk = l?.kind === "relu" || l?.kind === "tanh" ||
      (earlier((l as { sameAs?: unknown })?.sameAs, l?.kind) &&
        earlier((l as { tableOf?: unknown })?.tableOf, "arblinear"));
    const config = (c: ArbLinearConfig | undefined) =>
      c && typeof c === "object" && c.hash && typeof c.hash.family === "string";
    const ok = l && tiesOk && (l.kind === "relu" || l.kind === "tanh" ||
      (l.kind === "channelbias" && Number.isSafeInteger(l.channels) &&
        Number.isSafeInteger(l.pixels)) ||
      (l.kind === "arblinear" && config(l.config)) ||
      (l.kind === "module" && typeof l.type === "string" && Array.isArray(l.parameters) &&
        l.parameters.every((n) => Number.isSafeInteger(n) && n >= 0)) ||
      (l.kind === "rnn" && Number.isSafeInteger(l.steps) && l.steps >= 1 &&
        config(l.input) && config(l.recurrent) &&
        (l as { tableOf?: unknown }).tableOf === undefined));
    if (!ok) throw new ArbnetError(`${source}: layer ${i} of the network metadata is malformed`);
  }
  const optimizer = metadata.optimizer === undefined
    ? null
    : parseJson(metadata, "optimizer", source) as OptimizerRecord;
  if (
    optimizer &&
    (typeof optimizer.kind !== "string" || !Number.isSafeInteger(optimizer.steps) ||
      !Array.isArray(optimizer.state))
  ) {
    throw new ArbnetError(`${source}: the optimizer metadata is malformed`);
  }
  const checksum = metadata.checksum;
  if (typeof checksum !== "string" || !checksum.startsWith("sha256:")) {
    throw new ArbnetError(`${source} has no sha256 checksum in its metadata`);
  }
  return {
    version,
    layers: network.layers as LayerRecord[],
    optimizer,
    progress: (parseJson(metadata, "progress", source) ?? {}) as CheckpointProgress,
    checksum,
    created: metadata.created ?? "",
    tensors,
  };
}

async function readAll(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new ArbnetError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
}

/**
 * Reads a checkpoint's metadata (network structure, optimizer, progress)
 * without reading its tensors.
 */
export async function readCheckpointInfo(path: string): Promise<CheckpointInfo> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new ArbnetError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  try {
    const size = (await file.stat()).size;
    const head = await readUpTo(file, 8);
    let prefix = head;
    if (head.length === 8) {
      const n = new DataView(head.buffer).getBigUint64(0, true);
      // Only read the header when its length is plausible; the parser reports the rest.
      if (n <= BigInt(size - 8)) {
        prefix = new Uint8Array(8 + Number(n));
        prefix.set(head);
        prefix.set(await readUpTo(file, Number(n)), 8);
      }
    }
    const header = parseSafetensorsHeader(prefix, size, path);
    return parseInfo(
      header.metadata,
      header.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
      path,
    );
  } finally {
    file.close();
  }
}

async function readUpTo(file: Deno.FsFile, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await file.read(out.subarray(at));
    if (got === null) break;
    at += got;
  }
  return out.subarray(0, at);
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${
    Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")
  }}`;
}

/** Throws naming the first difference between the checkpoint's structure and the network's. */
function checkArchitecture(saved: LayerRecord[], actual: LayerRecord[], source: string): void {
  const kinds = (ls: LayerRecord[]) => ls.map((l) => l.kind).join(", ");
  if (saved.length !== actual.length) {
    throw new ArbnetError(
      `${source} holds ${saved.length} layers (${kinds(saved)}) but the network has ` +
        `${actual.length} (${kinds(actual)})`,
    );
  }
  for (let i = 0; i < saved.length; i++) {
    const s = saved[i];
    const a = actual[i];
    if (s.kind !== a.kind) {
      throw new ArbnetError(`${source}: layer ${i} is ${s.kind} in the checkpoint, ${a.kind} here`);
    }
    if (s.kind === "channelbias" && a.kind === "channelbias") {
      if (s.channels !== a.channels || s.pixels !== a.pixels) {
        throw new ArbnetError(
          `${source}: layer ${i} (channelbias) has ${s.channels} channels × ${s.pixels} pixels ` +
            `in the checkpoint but ${a.channels} × ${a.pixels} in the network`,
        );
      }
    }
    if (s.kind === "module" && a.kind === "module") {
      const [ss, as] = [s.parameters.join(", "), a.parameters.join(", ")];
      if (s.type !== a.type || ss !== as) {
        throw new ArbnetError(
          `${source}: layer ${i} is a ${s.type} with parameters of sizes [${ss}] in the ` +
            `checkpoint but a ${a.type} with [${as}] in the network`,
        );
      }
    }
    if (s.kind === "rnn" && a.kind === "rnn") {
      if (s.steps !== a.steps) {
        throw new ArbnetError(
          `${source}: layer ${i} (rnn) has ${s.steps} steps in the checkpoint but ${a.steps} ` +
            "in the network",
        );
      }
      checkConfig(s.input, a.input, `${source}: layer ${i}'s input layer (rnn)`);
      checkConfig(s.recurrent, a.recurrent, `${source}: layer ${i}'s recurrent layer (rnn)`);
    }
    if (s.kind === "arblinear" && a.kind === "arblinear") {
      checkConfig(s.config, a.config, `${source}: layer ${i} (arblinear)`);
    }
  }
}

/** Throws naming the first field in which a saved layer configuration differs from the network's. */
function checkConfig(s: ArbLinearConfig, a: ArbLinearConfig, where: string): void {
  const fields = [
    "inFeatures",
    "outFeatures",
    "tableSize",
    "sparsity",
    "seed",
    "bias",
  ] as const;
  for (const f of fields) {
    if (s[f] !== a[f]) {
      throw new ArbnetError(
        `${where} has ${f} ${s[f]} in the checkpoint but ${a[f]} in the network`,
      );
    }
  }
  if (s.hash?.family !== a.hash.family) {
    throw new ArbnetError(
      `${where} uses the ${s.hash?.family} hash in the checkpoint but ${a.hash.family} in ` +
        "the network",
    );
  }
  const so = canonical(s.hash.options ?? {});
  const ao = canonical(a.hash.options);
  if (so !== ao) {
    throw new ArbnetError(
      `${where} has hash options ${so} in the checkpoint but ${ao} in the network`,
    );
  }
}

function verifyChecksum(file: Safetensors, expected: string, source: string): void {
  const actual = sha256([file.data]);
  if (actual !== expected) {
    throw new ArbnetError(
      `${source} is corrupt: the data checksum is ${actual}, the header records ${expected}`,
    );
  }
}

/**
 * Restores a checkpoint into `net` (and `opt`): parameter values, optimizer
 * state, step count and learning rate. Returns the checkpoint's metadata
 * (its `progress` says where training stopped).
 *
 * Everything is validated before anything is written, so on error the
 * network and optimizer are unchanged.
 *
 * @example
 * ```ts ignore
 * const info = await loadCheckpoint("out/run.safetensors", { net, opt });
 * const startEpoch = (info.progress.epoch ?? -1) + 1;
 * ```
 */
export async function loadCheckpoint(
  path: string,
  options: LoadCheckpointOptions,
): Promise<CheckpointInfo> {
  const bytes = await readAll(path);
  const file = decodeSafetensors(bytes, path);
  const info = parseInfo(
    file.metadata,
    [...file.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    path,
  );
  verifyChecksum(file, info.checksum, path);
  const layers = flatten(options.net);
  checkArchitecture(info.layers, describe(layers), path);

  const rec = info.optimizer;
  const apply = stageStateLoad(options.net, {
    what: path,
    names: file.tensors.keys(),
    get: (name, size) => {
      const t = file.tensors.get(name);
      return t && tensorF32(t, [size], `${path}: tensor ${name}`);
    },
    optimizer: rec
      ? {
        kind: rec.kind,
        steps: rec.steps,
        learningRate: rec.learningRate,
        buffers: rec.state.length,
      }
      : null,
  }, options.opt);
  apply();
  return info;
}

/**
 * Builds the network a checkpoint describes (ArbLinear layers named
 * `layer<i>`, an RNN's two among them; ChannelBias, RNN, ReLU and Tanh
 * layers; hashes rebuilt from their descriptors) and, unless
 * `loadWeights` is false, loads its parameter values. Restore an optimizer
 * afterwards with {@linkcode loadCheckpoint}.
 *
 * @example
 * ```ts ignore
 * const { net, layers, info } = await buildFromCheckpoint(gpu, "out/run.safetensors");
 * ```
 */
export async function buildFromCheckpoint(
  gpu: Gpu,
  path: string,
  options: BuildFromCheckpointOptions = {},
): Promise<RebuiltNetwork> {
  const info = await readCheckpointInfo(path);
  const layers: ArbLinear[] = [];
  const modules: Module[] = [];
  // Named layer<i> in order, an RNN's two layers among them.
  const linear = (c: ArbLinearConfig, table?: ArbLinear["table"]) => {
    const layer = new ArbLinear(gpu, {
      inFeatures: c.inFeatures,
      outFeatures: c.outFeatures,
      tableSize: c.tableSize,
      sparsity: c.sparsity,
      seed: c.seed,
      bias: c.bias,
      hash: hashFromDescriptor(c.hash),
      tile: options.tile,
      procedural: options.procedural,
      name: `layer${layers.length}`,
      ...(table ? { table } : {}),
    });
    layers.push(layer);
    return layer;
  };
  for (const l of info.layers) {
    if (l.kind === "relu" || l.kind === "tanh") {
      modules.push(l.kind === "relu" ? new ReLU() : new Tanh());
      continue;
    }
    // A module used again: the very same object, so its gradients sum over every use.
    if (l.sameAs !== undefined) {
      modules.push(modules[l.sameAs]);
      continue;
    }
    if (l.kind === "channelbias") {
      const name = `channelbias${modules.length}`;
      modules.push(new ChannelBias(gpu, { channels: l.channels, pixels: l.pixels, name }));
      continue;
    }
    if (l.kind === "module") {
      throw new ArbnetError(
        `${path}: layer ${modules.length} is a ${l.type}, a module of your own: build the ` +
          "network with your code and restore it with loadCheckpoint",
      );
    }
    if (l.kind === "rnn") {
      const input = linear(l.input);
      modules.push(new RNN({ input, recurrent: linear(l.recurrent), steps: l.steps }));
      continue;
    }
    const tied = l.tableOf !== undefined ? (modules[l.tableOf] as ArbLinear).table : undefined;
    modules.push(linear(l.config, tied));
  }
  const net = new Sequential(modules);
  if (options.loadWeights ?? true) await loadCheckpoint(path, { net });
  return { net, layers, info };
}
