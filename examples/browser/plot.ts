/**
 * The page's pictures, drawn on 2-D canvases: the live loss and accuracy
 * curves, the slot-occupancy histogram of the first layer, and that layer's
 * virtual weights (through its slots) as they train.
 * @module
 */

/** One curve: points (step, value) on the loss axis (left) or the accuracy axis (right, 0–1). */
export interface Series {
  /** Legend label. */
  label: string;
  /** CSS colour. */
  color: string;
  /** Which axis the values belong to. */
  axis: "loss" | "accuracy";
  /** Points in order of step. */
  points: [number, number][];
}

const MARGIN = { left: 44, right: 44, top: 24, bottom: 28 };

function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("this browser gives no 2-D canvas context");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px sans-serif";
  return ctx;
}

/** Loss (left axis, from 0 to its largest value) and accuracy (right axis, 0–1) against steps. */
export function drawCurves(canvas: HTMLCanvasElement, series: readonly Series[]): void {
  const ctx = context(canvas);
  const w = canvas.width - MARGIN.left - MARGIN.right;
  const h = canvas.height - MARGIN.top - MARGIN.bottom;
  const all = series.flatMap((s) => s.points);
  const maxStep = Math.max(1, ...all.map((p) => p[0]));
  const maxLoss = Math.max(
    1e-6,
    ...series.filter((s) => s.axis === "loss").flatMap((s) => s.points.map((p) => p[1])),
  );
  const x = (step: number) => MARGIN.left + (step / maxStep) * w;
  const y = (v: number, axis: Series["axis"]) =>
    MARGIN.top + h * (1 - v / (axis === "loss" ? maxLoss : 1));

  ctx.strokeStyle = "#ccc";
  ctx.fillStyle = "#444";
  for (let i = 0; i <= 4; i++) {
    const yy = MARGIN.top + (h * i) / 4;
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, yy);
    ctx.lineTo(MARGIN.left + w, yy);
    ctx.stroke();
    ctx.textAlign = "right";
    ctx.fillText((maxLoss * (1 - i / 4)).toFixed(2), MARGIN.left - 4, yy + 4);
    ctx.textAlign = "left";
    ctx.fillText(`${100 - 25 * i}%`, MARGIN.left + w + 4, yy + 4);
  }
  ctx.textAlign = "center";
  ctx.fillText(`step (of ${maxStep})`, MARGIN.left + w / 2, canvas.height - 8);

  let legendX = MARGIN.left + 8;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.points.forEach(([step, v], i) =>
      i === 0 ? ctx.moveTo(x(step), y(v, s.axis)) : ctx.lineTo(x(step), y(v, s.axis))
    );
    ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = s.color;
    ctx.textAlign = "left";
    ctx.fillText(s.label, legendX, 14);
    legendX += ctx.measureText(s.label).width + 16;
  }
}

/**
 * How many slots hold how many positions (the occupancy distribution), as
 * bars; `title` carries the entropy.
 */
export function drawOccupancy(
  canvas: HTMLCanvasElement,
  counts: Uint32Array,
  title: string,
): void {
  const ctx = context(canvas);
  let maxCount = 0;
  for (const c of counts) maxCount = Math.max(maxCount, c);
  const bins = new Float64Array(Math.min(maxCount, 63) + 1);
  for (const c of counts) bins[Math.min(c, bins.length - 1)]++;
  const w = canvas.width - MARGIN.left - 8;
  const h = canvas.height - MARGIN.top - MARGIN.bottom;
  const top = Math.max(...bins);
  const bw = w / bins.length;
  ctx.fillStyle = "#3b6ea5";
  bins.forEach((b, i) => {
    const bh = (h * b) / top;
    ctx.fillRect(MARGIN.left + i * bw, MARGIN.top + h - bh, Math.max(1, bw - 1), bh);
  });
  ctx.fillStyle = "#444";
  ctx.textAlign = "left";
  ctx.fillText(title, MARGIN.left, 14);
  ctx.textAlign = "center";
  const last = bins.length - 1;
  const overflow = maxCount > last ? "+" : "";
  ctx.fillText(
    `positions per slot (0 … ${last}${overflow}); bar = number of slots`,
    MARGIN.left + w / 2,
    canvas.height - 8,
  );
  ctx.textAlign = "right";
  ctx.fillText(String(top), MARGIN.left - 4, MARGIN.top + 4);
}

/**
 * The incoming weights of the first `units` hidden units as `side × side`
 * images in a grid (blue negative, red positive, scaled to the largest
 * magnitude shown). `weight(i, j)` is the virtual weight from input `i` to
 * unit `j`.
 */
export function drawWeights(
  canvas: HTMLCanvasElement,
  weight: (i: number, j: number) => number,
  units: number,
  side: number,
): void {
  const ctx = context(canvas);
  const cell = side + 1;
  const titleHeight = 16;
  // The column count that gives the largest tiles.
  const fit = (cols: number) =>
    Math.min(
      canvas.width / (cols * cell),
      (canvas.height - titleHeight) / (Math.ceil(units / cols) * cell),
    );
  let cols = 1;
  for (let c = 2; c <= units; c++) if (fit(c) > fit(cols)) cols = c;
  const rows = Math.ceil(units / cols);
  const scale = fit(cols);
  let top = 1e-12;
  for (let j = 0; j < units; j++) {
    for (let i = 0; i < side * side; i++) top = Math.max(top, Math.abs(weight(i, j)));
  }
  const img = ctx.createImageData(cols * cell, rows * cell);
  img.data.fill(255);
  for (let j = 0; j < units; j++) {
    const [ox, oy] = [(j % cols) * cell, Math.floor(j / cols) * cell];
    for (let i = 0; i < side * side; i++) {
      const v = weight(i, j) / top;
      const o = 4 * ((oy + Math.floor(i / side)) * img.width + ox + (i % side));
      const fade = Math.round(255 * (1 - Math.min(1, Math.abs(v))));
      img.data[o] = v > 0 ? 255 : fade;
      img.data[o + 1] = fade;
      img.data[o + 2] = v < 0 ? 255 : fade;
    }
  }
  // Scale up without smoothing: one weight is a block of screen pixels.
  const tmp = document.createElement("canvas");
  [tmp.width, tmp.height] = [img.width, img.height];
  tmp.getContext("2d")!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, titleHeight, img.width * scale, img.height * scale);
  ctx.fillStyle = "#444";
  ctx.fillText(`first-layer weights into ${units} hidden units (red +, blue −)`, 2, 11);
}
