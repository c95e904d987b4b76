/**
 * The narrow GPU runtime every kernel goes through: one device, a pipeline
 * cache keyed by WGSL source, tracked buffers, and one command encoder that
 * collects a whole training step so it is submitted once. Device-clock
 * timing (`timeLaunches`, `capture`) lives in `timing.ts`.
 *
 * Longer than most modules on purpose: `Gpu` is one class because the open
 * encoder and pass, the buffer registry and the lost-device state are
 * private state that nearly every method shares.
 *
 * Layer: imports only `lib/errors.ts` and `timing.ts`. Kernels (`shaders/`) build on this.
 * @module
 */

import { ArbnetError, DeviceLostError } from "../errors.ts";
import { captureLaunches, timeLaunches, type TimingHost } from "./timing.ts";

/** What {@linkcode requestDevice} accepts. */
export interface DeviceOptions {
  /** Passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Label for the device, shown in driver messages. */
  label?: string;
}

/** Static facts about the adapter, used as the autotuner's cache key. */
export interface AdapterDescription {
  /** Driver's adapter name, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`. */
  description: string;
  /** Vendor id or name as reported. */
  vendor: string;
  /** Architecture as reported (often empty). */
  architecture: string;
  /** True for software adapters (lavapipe, llvmpipe, SwiftShader). */
  isFallbackAdapter: boolean;
}

/** Counters that show whether a training loop allocates GPU objects per step. */
export interface GpuStats {
  /** Live buffers created through this device and not yet destroyed. */
  liveBuffers: number;
  /** Bytes held by the live buffers. */
  liveBytes: number;
  /** Buffers ever created. */
  buffersCreated: number;
  /** Bind groups ever created. */
  bindGroupsCreated: number;
  /** Compute pipelines compiled (cache misses). */
  pipelinesCompiled: number;
  /** Command buffers submitted. */
  submits: number;
  /** Compute dispatches recorded. */
  dispatches: number;
}

/** A compiled compute program: its pipeline and the source it came from. */
export interface Program {
  /** The compiled pipeline (layout `auto`, entry point `main`). */
  readonly pipeline: GPUComputePipeline;
  /** Human-readable name used in labels and errors. */
  readonly label: string;
}

/** A program with its buffers bound and its grid fixed: recorded many times, built once. */
export interface Launch {
  /** The program to run. */
  readonly program: Program;
  /** Its bind group (group 0). */
  readonly bindGroup: GPUBindGroup;
  /** Workgroups along x, y, z. */
  readonly workgroups: readonly [number, number, number];
  /**
   * Further dispatches recorded right after this one, in order: a product
   * split into blocks that each bind their own window of a buffer.
   */
  readonly more?: readonly Launch[];
  /** Buffers made for this launch alone (its uniforms), freed by {@linkcode Gpu.releaseLaunch}. */
  readonly owns?: readonly GPUBuffer[];
}

/**
 * A byte range of a buffer, bound as a uniform buffer (at most the device's
 * maxUniformBufferBindingSize bytes, at an offset that is a multiple of its
 * minUniformBufferOffsetAlignment).
 */
export interface BufferWindow {
  /** The buffer (with `UNIFORM` usage, which {@linkcode Gpu.buffer} gives by default). */
  readonly buffer: GPUBuffer;
  /** First byte. */
  readonly offset: number;
  /** Bytes. */
  readonly size: number;
}

// UNIFORM too: a matmul may read windows of any buffer as uniform buffers,
// which lavapipe loads without a branch per lane (see matmul_window.wgsl).
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC |
  GPUBufferUsage.COPY_DST;

/**
 * Requests a WebGPU adapter and device headless, with the adapter's largest
 * buffer and workgroup limits, and wraps it as a {@linkcode Gpu}.
 *
 * Throws an {@linkcode ArbnetError} that says how to fix it when no adapter exists.
 *
 * @example
 * ```ts
 * import { requestDevice } from "./device.ts";
 * const gpu = await requestDevice();
 * console.log(gpu.adapter.description);
 * gpu.destroy();
 * ```
 */
export async function requestDevice(options: DeviceOptions = {}): Promise<Gpu> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new ArbnetError(
      "WebGPU is not available in this runtime (no navigator.gpu): run under Deno 2 " +
        "(`deno run` without --no-webgpu), or in a browser with WebGPU from a secure " +
        "(https or localhost) page (Chromium on Linux: --enable-unsafe-webgpu).",
    );
  }
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference,
  });
  if (!adapter) {
    throw new ArbnetError(
      "no WebGPU adapter found. On a machine without a GPU install Mesa's software " +
        "Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`), or select " +
        "another backend with DENO_WEBGPU_BACKEND (vulkan, gl), then try again.",
    );
  }
  const l = adapter.limits;
  // Timestamps let the autotuner time kernels on the device itself: a wait
  // under Deno has a fixed cost whatever the work, which swamps a short kernel.
  const timestamps = adapter.features.has("timestamp-query");
  const device = await adapter.requestDevice({
    label: options.label ?? "arbnet",
    requiredFeatures: timestamps ? ["timestamp-query"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info;
  return new Gpu(device, {
    description: info.description || info.device || "unknown adapter",
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  });
}

/**
 * One WebGPU device and everything arbnet keeps about it. Work is recorded
 * into a single open command encoder ({@linkcode Gpu.dispatch},
 * {@linkcode Gpu.clear}, {@linkcode Gpu.copy}) and submitted by
 * {@linkcode Gpu.flush} or by a read.
 */
export class Gpu {
  /** The underlying WebGPU device. */
  readonly device: GPUDevice;
  /** What the adapter says about itself. */
  readonly adapter: AdapterDescription;
  /** Set once the device is lost; every later call throws it. */
  lost: GPUDeviceLostInfo | null = null;

  readonly #programs = new Map<string, Promise<Program>>();
  readonly #live = new Map<GPUBuffer, number>();
  readonly #staging = new Map<number, GPUBuffer[]>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #stats: GpuStats = {
    liveBuffers: 0,
    liveBytes: 0,
    buffersCreated: 0,
    bindGroupsCreated: 0,
    pipelinesCompiled: 0,
    submits: 0,
    dispatches: 0,
  };
  #destroyed = false;
  #error: string | null = null;
  // What lib/gpu/timing.ts needs of this device; its `sink` collects
  // dispatched launches while capturing.
  readonly #timing: TimingHost<Launch> = {
    timestamps: () => this.timestamps,
    createQuerySet: (descriptor) => this.device.createQuerySet(descriptor),
    flush: () => this.flush(),
    buffer: (size, label, usage) => this.buffer(size, label, usage),
    release: (buffer) => this.release(buffer),
    readBytes: (buffer) => this.readBytes(buffer),
    recordPass: (launches, repeats, descriptor) => {
      const enc = this.#openEncoder();
      this.#endPass();
      if (descriptor) this.#pass = enc.beginComputePass(descriptor);
      for (const launch of launches) {
        for (let r = 0; r < repeats; r++) this.#record(launch);
      }
      this.#endPass();
    },
    encoder: () => {
      const enc = this.#openEncoder();
      this.#endPass();
      return enc;
    },
    sink: null,
  };

  /** Wraps an existing device; most callers want {@linkcode requestDevice}. */
  constructor(device: GPUDevice, adapter: AdapterDescription) {
    this.device = device;
    this.adapter = adapter;
    device.lost.then((info) => {
      if (!this.#destroyed) this.lost = info;
    });
    // An invalid command makes WebGPU skip work silently, so every later
    // result would be wrong (e.g. zeros read back as a loss): remember the
    // first such error and refuse to go on.
    device.addEventListener("uncapturederror", (e) => {
      this.#error ??= (e as GPUUncapturedErrorEvent).error?.message ?? "unknown GPU error";
    });
  }

  /**
   * True when the device can time its own work with timestamp queries
   * (the adapter offers `timestamp-query`), so {@linkcode Gpu.timeLaunches}
   * measures instead of returning null.
   */
  get timestamps(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** Device limits in force. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** A snapshot of the allocation and submission counters. */
  get stats(): GpuStats {
    return { ...this.#stats, liveBuffers: this.#live.size, liveBytes: this.#liveBytes() };
  }

  #liveBytes(): number {
    let n = 0;
    for (const size of this.#live.values()) n += size;
    return n;
  }

  #check(): void {
    if (this.#destroyed) throw new ArbnetError("this Gpu has been destroyed");
    if (this.lost) {
      throw new DeviceLostError(
        `the GPU device was lost (${this.lost.reason}: ${this.lost.message.trim()}), and the ` +
          "network on it with it; request a new device and resume from the last checkpoint",
        this.lost.reason,
      );
    }
    if (this.#error) {
      throw new ArbnetError(
        `the GPU rejected a command, so results since then are invalid: ${this.#error}`,
      );
    }
  }

  // The lost promise resolves a task after the failure that revealed it.
  async #settleLost(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.device.lost,
      new Promise((r) => timer = setTimeout(r, 200)),
    ]);
    clearTimeout(timer);
  }

  /**
   * Compiles (once per distinct source) a compute program with entry point
   * `main`. Concurrent requests for the same source share one compile.
   * Compile errors are thrown with the WGSL lines around the fault.
   */
  program(label: string, code: string): Promise<Program> {
    this.#check();
    let p = this.#programs.get(code);
    if (!p) {
      p = this.#compile(label, code);
      this.#programs.set(code, p);
      p.catch(() => this.#programs.delete(code));
    }
    return p;
  }

  async #compile(label: string, code: string): Promise<Program> {
    const device = this.device;
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      await device.popErrorScope();
      throw new ArbnetError(
        `WGSL of ${label} does not compile:\n` + formatWgslErrors(code, errors),
      );
    }
    const pipeline = device.createComputePipeline({
      label,
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    const err = await device.popErrorScope();
    if (err) throw new ArbnetError(`pipeline ${label} is invalid: ${err.message}`);
    this.#stats.pipelinesCompiled++;
    return { pipeline, label };
  }

  /** Creates a tracked buffer (storage, copy source and destination by default). */
  buffer(size: number, label: string, usage: number = STORAGE): GPUBuffer {
    this.#check();
    // WebGPU requires sizes that are multiples of 4; empty bindings are invalid.
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    if (bytes > this.limits.maxBufferSize) {
      throw new ArbnetError(
        `buffer ${label} needs ${bytes} bytes, over this device's maxBufferSize ` +
          `${this.limits.maxBufferSize} by ${bytes - this.limits.maxBufferSize}; ` +
          "use a smaller batch or layer, or a procedural hash",
      );
    }
    const buf = this.device.createBuffer({ label, size: bytes, usage });
    this.#live.set(buf, bytes);
    this.#stats.buffersCreated++;
    return buf;
  }

  /** Creates a tracked storage buffer holding `data`. */
  upload(data: ArrayBufferView, label: string, usage: number = STORAGE): GPUBuffer {
    const buf = this.buffer(data.byteLength, label, usage);
    this.write(buf, data);
    return buf;
  }

  /** A small uniform buffer holding u32/f32 words, for a launch's fixed parameters. */
  uniform(words: ArrayLike<number>, label: string, floatFrom = Infinity): GPUBuffer {
    const n = Math.max(4, Math.ceil(words.length / 4) * 4);
    const data = new ArrayBuffer(n * 4);
    const u = new Uint32Array(data);
    const f = new Float32Array(data);
    for (let i = 0; i < words.length; i++) {
      if (i >= floatFrom) f[i] = words[i];
      else u[i] = words[i];
    }
    return this.upload(u, label, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  }

  /**
   * Writes host data into a buffer. queue.writeBuffer lands before the next
   * submit, i.e. before work already recorded but not yet submitted; by
   * default that work is flushed first so it still sees the old contents.
   * Pass `flushFirst: false` when no recorded work reads the buffer (it
   * keeps a step in one submission).
   */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0, flushFirst = true): void {
    this.#check();
    if (flushFirst && this.#encoder) this.flush();
    const padded = data.byteLength % 4 === 0 ? data : padTo4(data);
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      padded.buffer as ArrayBuffer,
      padded.byteOffset,
      padded.byteLength,
    );
  }

  /** Frees the buffers a launch (and those in its `more`) owns; the launch must not run again. */
  releaseLaunch(launch: Launch): void {
    for (const b of launch.owns ?? []) this.release(b);
    for (const next of launch.more ?? []) this.releaseLaunch(next);
  }

  /** Frees a buffer now and stops tracking it. */
  release(buffer: GPUBuffer | null | undefined): void {
    if (!buffer) return;
    if (this.#live.delete(buffer)) buffer.destroy();
  }

  /**
   * Binds `buffers[i]` to binding `i` of group 0 (a whole buffer, or a
   * window of one bound as a uniform). Build once, record many times.
   */
  bind(
    program: Program,
    buffers: readonly (GPUBuffer | BufferWindow | null)[],
    workgroups: readonly [number, number, number],
  ): Launch {
    this.#check();
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (workgroups.some((w) => w > max)) {
      throw new ArbnetError(
        `${program.label} needs a grid of ${workgroups.join("×")} workgroups, over this ` +
          `device's maxComputeWorkgroupsPerDimension (${max}); use a smaller batch or layer`,
      );
    }
    buffers.forEach((buffer, binding) => {
      if (buffer) this.#checkBinding(program.label, buffer, binding);
    });
    const bindGroup = this.device.createBindGroup({
      label: program.label,
      layout: program.pipeline.getBindGroupLayout(0),
      // A null leaves a binding number unused: kernels composed from pieces
      // keep fixed binding numbers per role, so some variants skip a number.
      entries: buffers.flatMap((b, binding) =>
        b === null ? [] : [{ binding, resource: b instanceof GPUBuffer ? { buffer: b } : b }]
      ),
    });
    this.#stats.bindGroupsCreated++;
    return { program, bindGroup, workgroups };
  }

  // WebGPU rejects a binding larger than the limit only asynchronously, and
  // then skips every dispatch that uses it: say so now, with the sizes.
  // Whole buffers without STORAGE usage are uniforms (Gpu.uniform); the rest
  // bind as storage. Windows bind as uniforms.
  #checkBinding(label: string, b: GPUBuffer | BufferWindow, binding: number): void {
    const window = !(b instanceof GPUBuffer);
    const buffer = window ? b.buffer : b;
    const size = b.size;
    const uniform = window || (buffer.usage & GPUBufferUsage.STORAGE) === 0;
    const name = uniform ? "maxUniformBufferBindingSize" : "maxStorageBufferBindingSize";
    const max = uniform
      ? this.limits.maxUniformBufferBindingSize
      : this.limits.maxStorageBufferBindingSize;
    const what = `${label}: buffer ${buffer.label || "(unnamed)"} (binding ${binding})`;
    if (size > max) {
      throw new ArbnetError(
        `${what} is ${size} bytes, over this device's ${name} ${max} by ${size - max}; ` +
          "use a smaller batch or layer, or a procedural hash",
      );
    }
    const align = this.limits.minUniformBufferOffsetAlignment;
    if (window && (b.offset % align !== 0 || b.offset + b.size > buffer.size)) {
      throw new ArbnetError(
        `${what}: window ${b.offset}+${b.size} is not inside the buffer (${buffer.size} bytes) ` +
          `at a multiple of ${align} bytes`,
      );
    }
  }

  #openEncoder(): GPUCommandEncoder {
    this.#check();
    return this.#encoder ??= this.device.createCommandEncoder({ label: "arbnet step" });
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /**
   * Runs `work` with its launches collected instead of recorded, and returns
   * them in order, to time each with {@linkcode Gpu.timeLaunches}: a profile
   * of a training step without editing it. Clears, copies and reads in
   * `work` still run; they read results that the captured launches did not
   * compute, so discard what `work` returns. Run `work` once before, so that
   * nothing in it still compiles or tunes: the autotuner's own launches
   * would be collected too.
   */
  async capture(work: () => unknown): Promise<Launch[]> {
    return await captureLaunches(this.#timing, work);
  }

  /** Records a launch (and the launches in its `more`) into the open compute pass. */
  dispatch(launch: Launch): void {
    if (this.#timing.sink) this.#timing.sink.push(launch);
    else this.#record(launch);
  }

  #record(launch: Launch): void {
    const [x, y, z] = launch.workgroups;
    if (x > 0 && y > 0 && z > 0) {
      if (!this.#pass) this.#pass = this.#openEncoder().beginComputePass();
      this.#pass.setPipeline(launch.program.pipeline);
      this.#pass.setBindGroup(0, launch.bindGroup);
      this.#pass.dispatchWorkgroups(x, y, z);
      this.#stats.dispatches++;
    }
    for (const next of launch.more ?? []) this.#record(next);
  }

  /** Records zero-filling a buffer (or its first `size` bytes). */
  clear(buffer: GPUBuffer, size?: number): void {
    const enc = this.#openEncoder();
    this.#endPass();
    enc.clearBuffer(buffer, 0, size);
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, dst: GPUBuffer, size: number, srcOffset = 0, dstOffset = 0): void {
    const enc = this.#openEncoder();
    this.#endPass();
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /**
   * Device time of each launch in milliseconds: every launch is recorded
   * `repeats` times in its own compute pass between two timestamp queries,
   * all in one submission, and the pass time is divided by `repeats`. The
   * measure holds no wait and no other launch, so it compares kernels to a
   * few microseconds where wall-clock time around a wait would not. Every
   * launch also runs once, untimed, before the timed passes: after a wait
   * lavapipe speeds up over the first milliseconds of a submission, so the
   * launches timed first would read slow; after a round of all, repeated
   * launches agree. Returns null when the device lacks timestamp queries (see
   * {@linkcode Gpu.timestamps}). Flushes recorded work first.
   */
  async timeLaunches(launches: readonly Launch[], repeats = 1): Promise<number[] | null> {
    this.#check();
    return await timeLaunches(this.#timing, launches, repeats);
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const cmd = this.#encoder.finish();
    this.#encoder = null;
    this.device.queue.submit([cmd]);
    this.#stats.submits++;
  }

  /** Waits until the device has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.#check();
  }

  /** Reads `byteLength` bytes of `buffer` (from `byteOffset`) after all recorded work. */
  async readBytes(
    buffer: GPUBuffer,
    byteLength = buffer.size,
    byteOffset = 0,
  ): Promise<ArrayBuffer> {
    this.#check();
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.#takeStaging(size);
    this.#openEncoder();
    this.#endPass();
    this.#encoder!.copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, size);
    } catch (e) {
      await this.#settleLost();
      this.#check();
      throw e;
    }
    if (this.#error) {
      staging.unmap();
      this.#check();
    }
    // Copy out before unmap: the mapped range is detached by unmap.
    const out = staging.getMappedRange(0, size).slice(0, byteLength);
    staging.unmap();
    this.#returnStaging(size, staging);
    return out;
  }

  /** Reads a buffer as float32 (`count` elements from element `offset`). */
  async readF32(buffer: GPUBuffer, count = buffer.size / 4, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(buffer, count * 4, offset * 4));
  }

  /** Reads a buffer as uint32 (`count` elements from element `offset`). */
  async readU32(buffer: GPUBuffer, count = buffer.size / 4, offset = 0): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(buffer, count * 4, offset * 4));
  }

  // Staging buffers are pooled by size so a training loop that reads its loss
  // every step does not create a buffer per step.
  #takeStaging(size: number): GPUBuffer {
    const pool = this.#staging.get(size);
    const b = pool?.pop();
    if (b) return b;
    return this.buffer(size, "staging", GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  }

  #returnStaging(size: number, b: GPUBuffer): void {
    const pool = this.#staging.get(size) ?? [];
    pool.push(b);
    this.#staging.set(size, pool);
  }

  /** Frees every buffer and the device. The object is unusable afterwards. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#pass = null;
    this.#encoder = null;
    for (const b of this.#live.keys()) b.destroy();
    this.#live.clear();
    this.#staging.clear();
    this.device.destroy();
  }
}

function padTo4(data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

/** Formats compiler messages with the offending WGSL lines, numbered. */
export function formatWgslErrors(
  code: string,
  messages: readonly Pick<GPUCompilationMessage, "message" | "lineNum" | "linePos">[],
): string {
  const lines = code.split("\n");
  return messages.map((m) => {
    const at = m.lineNum > 0 ? m.lineNum : 0;
    const context = at > 0
      ? lines.slice(Math.max(0, at - 3), at + 2)
        .map((l, i) => `${String(Math.max(1, at - 2) + i).padStart(5)} | ${l}`).join("\n")
      : "";
    return `line ${at}:${m.linePos}: ${m.message.trim()}\n${context}`;
  }).join("\n\n");
}
