// The docs name files, tasks, anchors and benchmark records; these tests keep
// those names true as the code and the records move.
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The prose docs: the README and every Markdown file of docs/ outside the generated records. */
async function docs(): Promise<string[]> {
  const out = [join(ROOT, "README.md")];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".md") && !/-run\d+\.md$/.test(e.name)) out.push(path);
    }
  };
  await walk(join(ROOT, "docs"));
  return out.sort();
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const headings = [...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]));
  return new Set(headings);
}

/** Markdown outside fenced code blocks (a shell comment there is not a heading). */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "");
}

Deno.test("slug: GitHub's heading anchors", () => {
  assert.equal(slug("The default training run over time"), "the-default-training-run-over-time");
  assert.equal(slug("Why only `node:` and `npm:` imports"), "why-only-node-and-npm-imports");
  assert.equal(slug("Full profile"), "full-profile");
});

Deno.test("docs: every relative link and anchor resolves", async () => {
  const broken: string[] = [];
  for (const doc of await docs()) {
    const text = prose(await Deno.readTextFile(doc));
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const [path, anchor] = target.split("#");
      const file = path === "" ? doc : join(dirname(doc), path);
      const where = `${relative(ROOT, doc)} → ${target}`;
      if (!exists(file)) {
        broken.push(`${where}: no such file`);
      } else if (anchor !== undefined && file.endsWith(".md")) {
        const heads = anchors(prose(await Deno.readTextFile(file)));
        if (!heads.has(anchor)) broken.push(`${where}: no such heading`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("docs: every `deno task` named is in deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const tasks = new Set(Object.keys(config.tasks));
  const missing: string[] = [];
  for (const doc of await docs()) {
    const text = await Deno.readTextFile(doc);
    for (const [, name] of text.matchAll(/deno task ([\w-]+)/g)) {
      if (!tasks.has(name)) missing.push(`${relative(ROOT, doc)}: deno task ${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

Deno.test("docs: every project file named in backticks exists, and no run record is named", async () => {
  const missing: string[] = [];
  for (const doc of await docs()) {
    const text = await Deno.readTextFile(doc);
    for (const [, quoted] of text.matchAll(/`([^`\n]+)`/g)) {
      // A path inside a command (`deno run -A bench/compare.ts --rounds 5`) counts too.
      for (const word of quoted.split(/\s+/)) {
        if (word.includes("*") || word.includes("<")) continue; // patterns, placeholders
        // Benchmark run records left main for the git history: docs quote figures and commands.
        if (/^[\w-]+-run\d+\.(?:md|txt)$/.test(word)) {
          missing.push(`${relative(ROOT, doc)}: ${word} (a run record)`);
        }
        const file =
          /^(?:bench|scripts|lib|shaders|tests|docs|examples|\.ci)\/[\w./-]*\w$/.test(word)
            ? join(ROOT, word)
            : null;
        if (file && !exists(file)) missing.push(`${relative(ROOT, doc)}: ${word}`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
