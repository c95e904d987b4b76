/**
 * Device-clock timing: launches timed with timestamp queries
 * (`Gpu.timeLaunches`, which the autotuner and the profiling
 * benches use) and a step's launches collected unrun to time them
 * (`Gpu.capture`). `Gpu` keeps those methods and delegates here,
 * handing over a {@linkcode TimingHost}: the few private operations of a
 * device this needs, so nothing else of `Gpu` is opened up.
 *
 * Layer: gpu; imports only `lib/errors.ts` ; `device.ts` imports it.
 * @module
 */

import { ArbnetError } from "../errors.ts";

/** Launches per `Gpu.timeLaunches` call: WebGPU caps a query set at 4096 queries. */
export const MAX_TIMED_LAUNCHES = 2048;

/** What {@linkcode timeLaunches} and {@linkcode captureLaunches} need of a device (`L`: its launches). */
export interface TimingHost<L> {
  /** Whether the device has timestamp queries. */
  timestamps(): boolean;
  /** A query set on the device. */
  createQuerySet(descriptor: GPUQuerySetDescriptor): GPUQuerySet;
  /** Submits what is recorded. */
  flush(): void;
  /** A tracked buffer. */
  buffer(size: number, label: string, usage: number): GPUBuffer;
  /** Frees a tracked buffer. */
  release(buffer: GPUBuffer): void;
  /** Reads a buffer after all recorded work. */
  readBytes(buffer: GPUBuffer): Promise<ArrayBuffer>;
  /**
   * Records each launch `repeats` times, in order, in one compute pass of
   * their own (opened with `descriptor` when given), and ends it.
   */
  recordPass(launches: readonly L[], repeats: number, descriptor?: GPUComputePassDescriptor): void;
  /** The open command encoder, no compute pass open. */
  encoder(): GPUCommandEncoder;
  /** Where dispatched launches go instead of being recorded, or null (recorded). */
  sink: L[] | null;
}

/**
 * Device time of each launch in milliseconds; see `Gpu.timeLaunches`.
 * Returns null when the device lacks timestamp queries.
 */
export async function timeLaunches<L>(
  host: TimingHost<L>,
  launches: readonly L[],
  repeats = 1,
): Promise<number[] | null> {
  if (!host.timestamps()) return null;
  if (!Number.isInteger(repeats) || repeats < 1) {
    throw new ArbnetError(`timeLaunches: repeats must be a positive integer, got ${repeats}`);
  }
  if (launches.length === 0) return [];
  if (launches.length > MAX_TIMED_LAUNCHES) {
    throw new ArbnetError(
      `timeLaunches: at most ${MAX_TIMED_LAUNCHES} launches per call, got ${launches.length}`,
    );
  }
  host.flush();
  const count = 2 * launches.length;
  const querySet = host.createQuerySet({
    type: "timestamp",
    count,
    label: "arbnet timing",
  });
  const resolved = host.buffer(
    count * 8,
    "timestamps",
    GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  );
  try {
    // One untimed round first: after a wait lavapipe speeds up over the
    // start of a submission, so the launches timed first would read slow.
    host.recordPass(launches, 1);
    for (const [i, launch] of launches.entries()) {
      host.recordPass([launch], repeats, {
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
    }
    host.encoder().resolveQuerySet(querySet, 0, count, resolved, 0);
    const ticks = new BigInt64Array(await host.readBytes(resolved));
    // Nanoseconds by the spec; a driver may reorder or zero timestamps, and a
    // negative span is clamped rather than passed on as a time.
    return launches.map((_, i) =>
      Math.max(0, Number(ticks[2 * i + 1] - ticks[2 * i])) / 1e6 / repeats
    );
  } finally {
    querySet.destroy();
    host.release(resolved);
  }
}

/** Runs `work` with its launches collected instead of recorded; see `Gpu.capture`. */
export async function captureLaunches<L>(
  host: TimingHost<L>,
  work: () => unknown,
): Promise<L[]> {
  if (host.sink) throw new ArbnetError("capture: already capturing on this Gpu");
  const captured: L[] = [];
  host.sink = captured;
  try {
    await work();
  } finally {
    host.sink = null;
  }
  return captured;
}
