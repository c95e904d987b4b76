import { assertClose, gpuTest, randomF32 } from "./_util.ts";
import { biasGradLaunch, biasGradRef } from "../shaders/bias_grad.ts";

gpuTest("bias gradient matches column sums on odd shapes", async (gpu) => {
  for (const [rows, cols] of [[1, 1], [1, 113], [37, 113], [50, 10], [128, 65]]) {
    const dy = randomF32(rows * cols, rows + cols);
    const dyBuf = gpu.upload(dy, "dy"), db = gpu.buffer(cols * 4, "db");
    gpu.dispatch(await biasGradLaunch(gpu, rows, cols, dyBuf, db));
    assertClose(await gpu.readF32(db, cols), biasGradRef(dy, rows, cols), {
      rtol: 1e-5,
      atol: 1e-5,
      what: `${rows}x${cols}`,
    });
    gpu.release(dyBuf);
    gpu.release(db);
  }
});
