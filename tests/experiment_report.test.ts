import assert from "node:assert/strict";
import { join } from "node:path";
import {
  balanceChart,
  chartToSvg,
  findFonts,
  readResults,
  spearman,
  summarize,
  svgToPng,
  verdictLine,
  writeReport,
} from "../lib/experiment/mod.ts";
import type { RunRecord } from "../lib/experiment/mod.ts";
import { comparisonTable, hashComparisons } from "../lib/experiment/hashes_report.ts";
import { spliceBlocks } from "../lib/experiment/splice.ts";

const sample = new URL("./fixtures/experiment/sample/", import.meta.url).pathname;

function isPng(bytes: Uint8Array): boolean {
  return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b);
}

Deno.test("writeReport: tables, verdicts, warnings and both figures from the sample", async () => {
  const outDir = await Deno.makeTempDir();
  const logged: string[] = [];
  const s = await writeReport({ inputs: [sample], outDir, log: (m) => logged.push(m) });
  const md = await Deno.readTextFile(join(outDir, "report.md"));

  // 18 balance runs + 16 noise runs; the duplicate and the torn line are not counted.
  assert.equal(s.runs, 34);
  for (
    const row of [
      // acc 0.964/0.962/0.960, entropy 0.450/0.451/0.452, wall 10/12/14
      "| 0 | 0.001 | 3 | 96.20 ± 0.20 | 0.4510 ± 0.0010 | 12.0 |",
      "| 0 | 10 | 3 | 97.50 ± 0.20 | 0.9910 ± 0.0010 | 12.0 |",
      "| 0.9 | 0.1 | 3 | 95.00 ± 0.20 | 0.8010 ± 0.0010 | 12.0 |",
      // two seeds at ±0.001: std √2·0.001
      "| 0 | 0 | 2 | 97.50 ± 0.14 | 0.9991 ± 0.0001 | 21.5 |",
      "| 0 | 49000 | 2 | 96.00 ± 0.14 | 0.9991 ± 0.0001 | 21.5 |",
      "| 0.9 | 1000 | 2 | 94.00 ± 0.14 | 0.9991 ± 0.0001 | 21.5 |",
    ]
  ) {
    assert.ok(md.includes(row), `missing row ${row}`);
  }
  assert.match(md, /\| sparsity \| α \| n \| test accuracy %/);
  assert.match(md, /\| sparsity \| radius \| n \| test accuracy %/);
  assert.match(
    md,
    /sparsity 0: accuracy rises with entropy \(ρ=0\.80, p=0\.010 t approx\., n=9\): as the paper claims/,
  );
  assert.match(md, /sparsity 0\.9: no significant trend \(ρ=-0\.32/);
  assert.match(
    md,
    /sparsity 0: accuracy falls with radius \(ρ=-0\.98, p=7\.9e-4 exact, n=8\): as the paper claims/,
  );
  assert.match(md, /sparsity 0\.9: no significant trend \(ρ=0\.00, p=1\.000 exact, n=8\)/);
  assert.match(md, /partial last line of 40 bytes/);
  assert.match(md, /run noise-r0-s0-seed1-\w+ was recorded 2 times/);
  assert.equal(logged.length, s.warnings.length);
  assert.match(md, /!\[.*\]\(balance-mnist-quick\.png\)/);
  assert.match(md, /!\[.*\]\(noise-mnist-quick\.png\)/);

  assert.equal(s.figures.length, 4);
  for (const name of ["balance-mnist-quick", "noise-mnist-quick"]) {
    const svg = await Deno.readTextFile(join(outDir, `${name}.svg`));
    assert.match(svg, /^<svg/);
    assert.ok(svg.length > 5000);
    assert.match(svg, /test accuracy \(%\)/);
    const png = await Deno.readFile(join(outDir, `${name}.png`));
    assert.ok(isPng(png), `${name}.png is not a PNG`);
    assert.ok(png.length > 20_000, `${name}.png is only ${png.length} bytes`);
  }
  assert.match(await Deno.readTextFile(join(outDir, "noise-mnist-quick.svg")), />49,000</);
  await Deno.remove(outDir, { recursive: true });
});

Deno.test("PNG text is drawn when a font is found", async () => {
  const fonts = await findFonts();
  if (fonts.files.length === 0) {
    console.warn("no font on this machine: PNG text cannot be checked");
    return;
  }
  const svg = await chartToSvg(balanceChart([], "Some title text to draw"));
  const withText = await svgToPng(svg, fonts, 1);
  const without = await svgToPng(svg, { buffers: [], files: [] }, 1);
  assert.ok(isPng(withText) && isPng(without));
  // Glyphs add detail that a text-less render lacks.
  assert.ok(withText.length > without.length * 1.2, `${withText.length} vs ${without.length}`);
});

Deno.test("summarize: inputs as globs, cells grouped, mixed configs flagged", async () => {
  const noise = await readResults([join(sample, "noise.shard-*.jsonl")]);
  assert.equal(noise.records.length, 16);
  const [series] = summarize(noise.records);
  assert.equal(series.key, "noise-mnist-quick");
  assert.equal(series.pointName, "radius");
  assert.deepEqual(series.cells.map((c) => c.point), [0, 10, 1000, 49000, 0, 10, 1000, 49000]);
  assert.deepEqual(series.warnings, []);

  const tweaked = noise.records.map((r, i) => i === 0 ? { ...r, spec: { ...r.spec, lr: 0.5 } } : r);
  assert.match(summarize(tweaked)[0].warnings.join("\n"), /differ in lr/);
});

Deno.test("verdictLine words both directions against the paper's claims", () => {
  const up = spearman([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const down = spearman([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.match(verdictLine("entropy", up), /^accuracy rises with entropy .*as the paper claims$/);
  assert.match(verdictLine("entropy", down), /falls with entropy .*contrary to the paper's claim$/);
  assert.match(verdictLine("radius", down), /falls with radius .*as the paper claims$/);
  assert.match(verdictLine("radius", up), /rises with radius .*contrary/);
  assert.match(verdictLine("radius", spearman([1, 2], [2, 1])), /^no test possible \(n=2/);
});

Deno.test("hashes report: each hash against uniform, paired by seed, by the known t answer", () => {
  const rec = (family: string, sparsity: number, seed: number, acc: number) =>
    ({
      spec: { experiment: "hashes", hash: { family, options: {} }, sparsity, seed },
      result: { testAccuracy: acc },
    }) as unknown as RunRecord;
  const records = [
    ...[0.9, 0.91, 0.92].map((a, i) => rec("uniform", 0, i + 1, a)),
    // b − uniform = 1, 2, 0 points: mean 1, sd 1, t = √3 on 2 df, p = 0.2254.
    ...[0.91, 0.93, 0.92].map((a, i) => rec("b", 0, i + 1, a)),
    // One seed only: no test.
    rec("c", 0, 1, 0.95),
    // Another sparsity without uniform: the first hash by name is the baseline.
    rec("x", 0.5, 1, 0.8),
    rec("y", 0.5, 1, 0.9),
  ];
  const cmps = hashComparisons(records, (r) => r.spec.hash.family);
  assert.deepEqual(
    cmps.map((c) => [c.sparsity, c.hash, c.baseline, c.pairs]),
    [[0, "b", "uniform", 3], [0, "c", "uniform", 1], [0.5, "y", "x", 1]],
  );
  const t = cmps[0].test!;
  assert.ok(Math.abs(t.mean - 1) < 1e-9 && Math.abs(t.sd - 1) < 1e-9, JSON.stringify(t));
  assert.ok(Math.abs(t.p - 0.2254) < 1e-3, `p ${t.p}`);
  // 1 ± t(0.975, 2)·1/√3 = 1 ± 4.3027·0.57735
  assert.ok(Math.abs(t.ci[0] - (1 - 2.4842)) < 1e-3 && Math.abs(t.ci[1] - 3.4842) < 1e-3);
  assert.equal(cmps[1].test, null);
  const table = comparisonTable(cmps).join("\n");
  assert.match(table, /\| 0 \| b \| uniform \| 3 \| 1\.00 \| \[-1\.48, 3\.48\] \| 0\.225 \|/);
  assert.match(table, /\| 0 \| c \| uniform \| 1 \| n\/a \|/);
});

Deno.test("spliceBlocks: marked blocks replaced, idempotent; unknown and unclosed blocks refused", () => {
  const text = "a\n<!-- report:x -->\nold\n<!-- /report:x -->\nb\n";
  const once = spliceBlocks(text, { x: ["| 1 |"] }, "doc.md");
  assert.equal(
    once.text,
    "a\n<!-- report:x -->\n<!-- deno-fmt-ignore-start -->\n\n| 1 |\n\n" +
      "<!-- deno-fmt-ignore-end -->\n<!-- /report:x -->\nb\n",
  );
  assert.deepEqual(once.names, ["x"]);
  assert.equal(spliceBlocks(once.text, { x: ["| 1 |"] }, "doc.md").text, once.text);
  assert.throws(
    () => spliceBlocks(text, { y: [] }, "doc.md"),
    /doc\.md:2: the report has no block "x" \(it has y\)/,
  );
  assert.throws(
    () => spliceBlocks("<!-- report:x -->\n", { x: [] }, "doc.md"),
    /doc\.md:1: <!-- report:x --> has no closing/,
  );
  // An opener left behind (a bad merge) must not swallow the prose up to the next block.
  assert.throws(
    () => spliceBlocks("<!-- report:x -->\nkeep me\n" + text, { x: [] }, "doc.md"),
    /doc\.md:4: <!-- report:x --> inside the block opened on line 1/,
  );
  assert.throws(
    () => spliceBlocks("<!-- /report:x -->\n", { x: [] }, "doc.md"),
    /closes no open block/,
  );
  // Not a block name the report could have: an object's own keys only.
  assert.throws(
    () => spliceBlocks("<!-- report:constructor -->\n<!-- /report:constructor -->\n", {}, "doc.md"),
    /no block "constructor"/,
  );
  // CRLF files keep their line ends; a marker quoted inside a line is prose.
  const crlf = spliceBlocks(text.replaceAll("\n", "\r\n"), { x: ["| 1 |"] }, "doc.md").text;
  assert.equal(crlf, once.text.replaceAll("\n", "\r\n"));
  const quoted = "write `<!-- report:x -->` lines\n";
  assert.equal(spliceBlocks(quoted, {}, "doc.md").text, quoted);
});
