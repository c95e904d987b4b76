/**
 * The report's output rules (kept apart from the report's content): it is
 * never written from empty input, its folder is checked before any work,
 * and temporary files of killed writes are removed. The report itself is
 * written with `writeFileAtomic` (a temporary file renamed into place).
 *
 * Imports `lib/io/files.ts`, `lib/errors.ts` and `node:path`.
 * @module
 */

import { join } from "node:path";
import { ArbnetError } from "../errors.ts";
import { checkOutputDir, removeStaleTemps } from "../io/files.ts";

/**
 * Refuses to write a report from no runs (it would replace a good report
 * with an empty one), then checks that `outDir` is a folder this process can
 * write (creating it if missing) and removes stale `report.md.tmp-<pid>`
 * files.
 */
export async function checkReportInputs(
  merged: { records: readonly unknown[]; files: readonly string[] },
  opts: { inputs: readonly string[]; outDir: string; log?: (msg: string) => void },
): Promise<void> {
  if (merged.records.length === 0) {
    const read = merged.files.length === 0
      ? "no results file"
      : `${merged.files.length} file(s) without a valid run`;
    throw new ArbnetError(
      `no runs found in ${opts.inputs.join(", ")} (${read}): no report written, so ${
        join(opts.outDir, "report.md")
      } is left as it was; give the results files or folders of a sweep`,
    );
  }
  await checkOutputDir(opts.outDir, "report folder");
  const log = opts.log ?? ((msg: string) => console.error(msg));
  for (const p of await removeStaleTemps(join(opts.outDir, "report.md"))) {
    log(`note: removed ${p}, left by a report write that was killed`);
  }
}
