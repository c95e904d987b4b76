/**
 * Which WebGPU adapter Deno gets, before anything is timed on it: what the
 * adapter says about itself for each power preference, its features and
 * the limits the kernels depend on, then the device arbnet requests from
 * it (what the autotuner keys its tiles by, and whether kernels can be
 * timed on the device's clock). Exits with status 2 when the adapter is a
 * software one (lavapipe, llvmpipe, SwiftShader), so a GPU check stops
 * before it spends its minutes timing a CPU; `--allow-software` lets a
 * machine without a GPU run it.
 *
 *   deno run -A bench/gpu_adapter.ts [--allow-software]
 * @module
 */

import { parseFlags, runMain } from "../lib/cli.ts";
import { requestDevice } from "../lib/gpu/device.ts";

const FLAGS = {
  "allow-software": { type: "bool", help: "exit 0 on a software adapter too" },
} as const;

/** The limits a kernel's tiles, buffers and grids depend on. */
const LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "minStorageBufferOffsetAlignment",
  "subgroupMinSize",
  "subgroupMaxSize",
] as const;

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software/i;

function describe(adapter: GPUAdapter): Record<string, unknown> {
  const info = adapter.info;
  const limits = adapter.limits as unknown as Record<string, number | undefined>;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? null,
    features: [...adapter.features].sort(),
    limits: Object.fromEntries(LIMITS.map((k) => [k, limits[k] ?? null])),
  };
}

await runMain(async () => {
  const f = parseFlags(Deno.args, FLAGS, "deno run -A bench/gpu_adapter.ts");
  if (!f) return;
  const env = ["DENO_WEBGPU_BACKEND", "VK_DRIVER_FILES", "VK_ICD_FILENAMES"]
    .map((k) => `${k}=${Deno.env.get(k) ?? ""}`);
  console.log(`deno ${Deno.version.deno}; ${env.join(" ")}`);
  // Another preference may pick another adapter (say a software one beside the GPU).
  for (const powerPreference of ["high-performance", "low-power"] as const) {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference });
    console.log(`adapter for ${powerPreference}: ${adapter?.info.description ?? "none"}`);
  }
  const adapter = await navigator.gpu.requestAdapter();
  console.log(`adapter: ${adapter ? JSON.stringify(describe(adapter), null, 1) : "none"}`);
  const gpu = await requestDevice({ label: "gpu_adapter" });
  const software = gpu.adapter.isFallbackAdapter || SOFTWARE.test(gpu.adapter.description);
  console.log(
    `arbnet device: ${gpu.adapter.description} (vendor ${gpu.adapter.vendor || "-"}, ` +
      `architecture ${gpu.adapter.architecture || "-"}); timestamp queries: ` +
      `${gpu.timestamps ? "yes" : "no"}; software adapter: ${software ? "yes" : "no"}`,
  );
  gpu.destroy();
  if (software && !f["allow-software"]) {
    console.error(
      "gpu_adapter: Deno got a software adapter, not the GPU: check the Vulkan loader and " +
        "VK_DRIVER_FILES (the NVIDIA driver's ICD json), or pass --allow-software",
    );
    Deno.exit(2);
  }
});
