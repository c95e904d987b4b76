/**
 * The contract every hash family implements. A hash sends each position
 * `p = i * cols + j` of a layer's virtual weight matrix (`rows × cols`) to a
 * slot of its table; slot `tableSize` is the reserved zero slot.
 * @module
 */

/** Where a hash is evaluated: the shape of the virtual matrix and the table. */
export interface IndexSpec {
  /** Rows of the virtual matrix (the layer's input features). */
  rows: number;
  /** Columns of the virtual matrix (the layer's output features). */
  cols: number;
  /** Trainable slots `K`; slot `K` is the zero slot. */
  tableSize: number;
  /** Fraction of positions sent to the zero slot, in [0, 1). Default 0. */
  sparsity?: number;
  /** Seed; equal seeds give bit-identical indices. */
  seed: number;
}

/** A JSON-safe description of a hash, enough to rebuild it (checkpoints, logs). */
export interface HashDescriptor {
  /** Family name, e.g. `"uniform"`. */
  family: string;
  /** The family's options, e.g. `{ alpha: 0.1 }`. */
  options: Record<string, number | string | boolean>;
}

/** A weight-sharing pattern: a seeded map from virtual-matrix positions to table slots. */
export interface Hash extends HashDescriptor {
  /** Slot of every position, row-major (`rows * cols` entries, each in `[0, tableSize]`). */
  indices(spec: IndexSpec): Uint32Array;
  /**
   * Sign `ξ(p)` of every position as ±1, or `null` when the family uses no sign
   * hash (all +1).
   */
  signs(spec: IndexSpec): Int8Array | null;
  /**
   * The fan-in of one output (column) of the virtual matrix before sparsity:
   * how many inputs it can read through a slot other than the zero slot.
   * ArbLinear initialises its table for it (He-uniform on
   * `fanIn · (1 − sparsity)`). Absent: `rows`, right for families that
   * fill every position. A structured family that leaves most positions in
   * the zero slot says so here: `conv2d` gives `inChannels · kernel²`.
   */
  fanIn?(spec: IndexSpec): number;
}
