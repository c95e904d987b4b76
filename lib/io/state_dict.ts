/**
 * In-memory state of a network and its optimizer: {@linkcode stateDict}
 * copies every parameter (and optionally the optimizer's state buffers, step
 * count and learning rate) to host arrays under stable names;
 * {@linkcode loadStateDict} writes them back after validating all of them.
 * Checkpoints ({@linkcode saveCheckpoint}) store exactly these tensors,
 * under the same names, and load through the same validation.
 *
 * Names: a parameter is `layers.<i>.<role>`, `i` its layer's index among the
 * network's layers with nested Sequentials flattened (ReLUs count), `role`
 * the last part of its name (`table`, `bias`). A parameter shared by several
 * layers is listed once, under its first. Optimizer state buffer `k` (in
 * `stateBuffers()` order) is `optimizer.<k>.<role>`.
 *
 * Layer: io; imports `lib/nn`, `lib/optim`.
 * @module
 */

import { ArbnetError } from "../errors.ts";
import { Sequential } from "../nn/layers.ts";
import type { Module, Parameter } from "../nn/module.ts";
import { Adam, type Optimizer, SGD } from "../optim/optimizer.ts";

/** The optimizer part of a {@linkcode StateDict}. */
export interface OptimizerState {
  /** `"sgd"`, `"adam"`, or the class name of another optimizer. */
  kind: string;
  /** Completed steps (Adam's bias corrections depend on them). */
  steps: number;
  /** Learning rate when the state was taken. */
  learningRate: number;
  /** State buffers by name (`optimizer.<k>.<role>`), host copies. */
  buffers: Record<string, Float32Array>;
}

/** A network's (and optionally its optimizer's) state on the host. */
export interface StateDict {
  /** Parameter values by name (`layers.<i>.table`, `layers.<i>.bias`), host copies. */
  parameters: Record<string, Float32Array>;
  /** The optimizer's state, when {@linkcode stateDict} was given one. */
  optimizer?: OptimizerState;
}

/** A parameter with its state-dict name. */
export interface NamedParameter {
  /** `layers.<i>.<role>`. */
  name: string;
  /** The parameter. */
  param: Parameter;
}

/** The network's layers in order, nested Sequentials flattened. */
export function flattenLayers(net: Module): Module[] {
  return net instanceof Sequential ? net.layers.flatMap(flattenLayers) : [net];
}

/** Every parameter of `net` once, with its state-dict name, in `net.parameters()` order. */
export function namedParameters(net: Module): NamedParameter[] {
  const seen = new Set<Parameter>();
  const out: NamedParameter[] = [];
  flattenLayers(net).forEach((layer, i) => {
    const params = layer.parameters();
    const roles = params.map((p) => p.name.slice(p.name.lastIndexOf(".") + 1));
    // Roles name a layer's parameters when they tell them apart, else their positions.
    const unique = new Set(roles).size === roles.length;
    params.forEach((param, k) => {
      if (seen.has(param)) return;
      seen.add(param);
      out.push({ name: `layers.${i}.${unique ? roles[k] : k}`, param });
    });
  });
  return out;
}

/** The state-dict name of optimizer state buffer `k` named `name`. */
export function optimizerStateName(k: number, name: string): string {
  return `optimizer.${k}.${name.slice(name.lastIndexOf(".") + 1)}`;
}

/** `"sgd"`, `"adam"`, or the optimizer's class name. */
export function optimizerKind(opt: Optimizer): string {
  if (opt instanceof SGD) return "sgd";
  if (opt instanceof Adam) return "adam";
  return (opt as object).constructor?.name ?? "unknown";
}

/**
 * Copies the network's parameters (and `opt`'s state, steps and learning
 * rate) to the host. Waits for the GPU.
 *
 * @example
 * ```ts ignore
 * const saved = await stateDict(net, opt);
 * // ... train on ...
 * loadStateDict(net, saved, opt); // back to where it was
 * ```
 */
export async function stateDict(net: Module, opt?: Optimizer): Promise<StateDict> {
  const parameters: Record<string, Float32Array> = {};
  for (const { name, param } of namedParameters(net)) parameters[name] = await param.read();
  if (!opt) return { parameters };
  const gpu = net.gpu;
  const buffers: Record<string, Float32Array> = {};
  const state = opt.stateBuffers();
  for (let k = 0; k < state.length; k++) {
    buffers[optimizerStateName(k, state[k].name)] = await gpu.readF32(
      state[k].buffer,
      state[k].size,
    );
  }
  return {
    parameters,
    optimizer: {
      kind: optimizerKind(opt),
      steps: opt.steps,
      learningRate: opt.learningRate,
      buffers,
    },
  };
}

/**
 * Where a load reads its values: a {@linkcode StateDict}, or a checkpoint's
 * tensors (lib/io/checkpoint.ts).
 */
export interface StateSource {
  /** How errors name the source, e.g. `"the state dict"` or a file path. */
  what: string;
  /** Names of every tensor the source holds. */
  names: Iterable<string>;
  /** The values of tensor `name`, expected to hold `size` floats; undefined when absent. */
  get(name: string, size: number): Float32Array | undefined;
  /** The optimizer the state was taken from, or null when it holds none. */
  optimizer: { kind: string; steps: number; learningRate: number; buffers: number } | null;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!(a[i] > -Infinity && a[i] < Infinity)) return i;
  return -1;
}

/**
 * Validates everything `source` holds for `net` (and `opt`): every tensor
 * present with its size and finite, the optimizer of the same kind and
 * state layout, no tensor left over. Returns the writes, to apply once all
 * passed, so a failed load changes nothing.
 */
export function stageStateLoad(net: Module, source: StateSource, opt?: Optimizer): () => void {
  const { what } = source;
  const writes: (() => void)[] = [];
  const used = new Set<string>();
  const take = (name: string, size: number): Float32Array => {
    const values = source.get(name, size);
    if (!values) throw new ArbnetError(`${what} has no tensor ${name}`);
    if (!(values instanceof Float32Array) || values.length !== size) {
      throw new ArbnetError(
        `${what}: tensor ${name} must be a Float32Array of ${size} values, got ${values.length}`,
      );
    }
    used.add(name);
    const at = firstNonFinite(values);
    if (at >= 0) {
      throw new ArbnetError(
        `${what}: tensor ${name} holds ${values[at]} at index ${at}; saved state must be finite`,
      );
    }
    return values;
  };
  for (const { name, param } of namedParameters(net)) {
    const values = take(name, param.size);
    writes.push(() => param.write(values));
  }
  if (opt) {
    const rec = source.optimizer;
    if (!rec) {
      throw new ArbnetError(`${what} holds no optimizer state; load it without an optimizer`);
    }
    const kind = optimizerKind(opt);
    if (rec.kind !== kind) {
      throw new ArbnetError(`${what} holds ${rec.kind} optimizer state, the optimizer is ${kind}`);
    }
    const state = opt.stateBuffers();
    if (state.length !== rec.buffers) {
      throw new ArbnetError(
        `${what} holds ${rec.buffers} optimizer state buffers, the optimizer has ${state.length}`,
      );
    }
    const gpu = net.gpu;
    for (let k = 0; k < state.length; k++) {
      const values = take(optimizerStateName(k, state[k].name), state[k].size);
      writes.push(() => gpu.write(state[k].buffer, values));
    }
    writes.push(() => {
      opt.setSteps(rec.steps);
      opt.learningRate = rec.learningRate;
    });
  }
  const unknown = [...source.names].filter((n) =>
    !used.has(n) && !(n.startsWith("optimizer.") && !opt)
  );
  if (unknown.length > 0) {
    throw new ArbnetError(
      `${what} holds tensors this network has no place for: ${unknown.slice(0, 5).join(", ")}`,
    );
  }
  return () => {
    for (const w of writes) w();
  };
}

/**
 * Writes a {@linkcode StateDict} back into `net` (and `opt`: state buffers,
 * step count, learning rate). Everything is validated first (names, sizes,
 * finite values, optimizer kind), so on error nothing changes.
 */
export function loadStateDict(net: Module, state: StateDict, opt?: Optimizer): void {
  if (!state || typeof state.parameters !== "object" || state.parameters === null) {
    throw new ArbnetError("loadStateDict takes a state dict { parameters, optimizer? }");
  }
  const tensors: Record<string, Float32Array> = {
    ...state.parameters,
    ...state.optimizer?.buffers,
  };
  const o = state.optimizer;
  const apply = stageStateLoad(net, {
    what: "the state dict",
    names: Object.keys(tensors),
    get: (name) => Object.hasOwn(tensors, name) ? tensors[name] : undefined,
    optimizer: o
      ? {
        kind: o.kind,
        steps: o.steps,
        learningRate: o.learningRate,
        buffers: Object.keys(o.buffers).length,
      }
      : null,
  }, opt);
  apply();
}
