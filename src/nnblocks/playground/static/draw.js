// Pictures on canvases: heatmaps sent as base64 bytes, the data points, the loss curves.

export const CLASS_COLOURS = ["#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const NEG = [245, 147, 34], POS = [8, 119, 189], WHITE = [255, 255, 255];

export function bytes(b64) {
  const text = atob(b64), out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function mix(a, b, t) { return [0, 1, 2].map(i => Math.round(a[i] + (b[i] - a[i]) * t)); }

// Byte 0..255 for -1..+1: orange below the middle, white at it, blue above.
export function diverging(v) {
  const t = (v - 127.5) / 127.5;
  return t < 0 ? mix(WHITE, NEG, -t) : mix(WHITE, POS, t);
}

// Paint an n x n picture (row by row from the top) into a canvas: colour(i) gives cell i's [r, g, b].
export function paint(canvas, n, colour, alpha = 255) {
  canvas.width = n; canvas.height = n;
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = colour(i);
    image.data.set([r, g, b, alpha], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

// The decision picture: for classes, white mixed with the predicted class's colour by confidence; for regression,
// the predicted value on the diverging scale.
export function boundaryColours(boundary) {
  if (boundary.kind === "classes") {
    const cls = bytes(boundary["class"]), conf = bytes(boundary.confidence);
    const colours = CLASS_COLOURS.map(rgb);
    return i => mix(WHITE, colours[cls[i] % colours.length], 0.15 + 0.6 * conf[i] / 255);
  }
  const value = bytes(boundary.value);
  return i => mix(WHITE, diverging(value[i]), 0.8);
}

// The boundary canvas: the picture stretched smoothly over the whole canvas, then the points on top.
export function drawBoundary(canvas, boundary, points, showTest) {
  const ctx = canvas.getContext("2d"), size = canvas.width;
  const picture = document.createElement("canvas");
  paint(picture, boundary.n, boundaryColours(boundary));
  ctx.imageSmoothingEnabled = true;
  ctx.clearRect(0, 0, size, size);
  ctx.drawImage(picture, 0, 0, size, size);
  if (!points) return;
  drawPoints(ctx, size, points, points.train, "#fff");
  if (showTest) drawPoints(ctx, size, points, points.test, "#000");
}

function pointColour(points, label) {
  if (points.task === "classification") return CLASS_COLOURS[label % CLASS_COLOURS.length];
  const [lo, hi] = points.targetRange;
  const [r, g, b] = diverging(255 * (label - lo) / Math.max(hi - lo, 1e-12));
  return `rgb(${r},${g},${b})`;
}

function drawPoints(ctx, size, points, part, outline) {
  const [x0, x1, y0, y1] = points.domain;
  ctx.lineWidth = 1;
  ctx.strokeStyle = outline;
  for (let k = 0; k < part.x.length; k++) {
    const [x, y] = part.x[k];
    const px = (x - x0) / (x1 - x0) * size, py = (y1 - y) / (y1 - y0) * size;
    ctx.beginPath();
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
    ctx.fillStyle = pointColour(points, part.y[k]);
    ctx.fill();
    ctx.stroke();
  }
}

// Train (solid) and test (dashed) loss per epoch, from 0 to the largest value seen.
export function drawCurve(canvas, curve) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const n = curve.epoch.length;
  if (n < 2) return;
  const last = curve.epoch[n - 1];
  const top = Math.max(...curve.train.filter(Number.isFinite), ...curve.test.filter(Number.isFinite), 1e-12);
  const line = (values, colour, dash) => {
    ctx.beginPath();
    ctx.setLineDash(dash);
    ctx.strokeStyle = colour;
    values.forEach((v, i) => {
      const x = curve.epoch[i] / last * (w - 2) + 1, y = h - 2 - Math.min(v === null ? 1 : v / top, 1) * (h - 4);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  };
  line(curve.train, "#555", []);
  line(curve.test, "#000", [4, 3]);
  ctx.setLineDash([]);
}

// A small picture of each data set for its button (48 x 48 canvas).
const ICONS = {
  circles: (t, a, dot) => {
    dot(24 + 20 * Math.cos(a), 24 + 20 * Math.sin(a), 0);
    dot(24 + 9 * Math.cos(a), 24 + 9 * Math.sin(a), 1);
  },
  xor: (t, a, dot, i) => { const q = i % 4; dot(q % 2 ? 36 : 12, q > 1 ? 36 : 12, q === 0 || q === 3 ? 0 : 1); },
  blobs: (t, a, dot) => {
    dot(14 + 4 * Math.cos(7 * a), 14 + 4 * Math.sin(5 * a), 0);
    dot(34 + 4 * Math.cos(3 * a), 18 + 4 * Math.sin(4 * a), 1);
    dot(22 + 4 * Math.cos(5 * a), 36 + 4 * Math.sin(7 * a), 2);
  },
  spirals: (t, a, dot) => {
    for (const k of [0, 1]) dot(24 + 20 * t * Math.cos(a + Math.PI * k), 24 + 20 * t * Math.sin(a + Math.PI * k), k);
  },
  moons: (t, a, dot) => {
    const u = Math.PI * t;
    dot(18 + 14 * Math.cos(u), 28 - 14 * Math.sin(u), 0);
    dot(30 - 14 * Math.cos(u), 20 + 14 * Math.sin(u), 1);
  },
};

export function drawIcon(canvas, name) {
  const ctx = canvas.getContext("2d"), s = canvas.width;
  ctx.clearRect(0, 0, s, s);
  const dot = (x, y, k) => { ctx.fillStyle = CLASS_COLOURS[k]; ctx.fillRect(x - 1.5, y - 1.5, 3, 3); };
  if (ICONS[name]) for (let i = 0; i < 60; i++) ICONS[name](i / 60, 2 * Math.PI * i / 60, dot, i);
  if (name === "plane") {
    const g = ctx.createLinearGradient(0, 0, s, s);
    g.addColorStop(0, CLASS_COLOURS[0]);
    g.addColorStop(1, CLASS_COLOURS[1]);
    ctx.fillStyle = g;
    ctx.fillRect(6, 6, s - 12, s - 12);
  }
  if (name === "upload") {
    Object.assign(ctx, { fillStyle: "#777", font: "22px sans-serif", textAlign: "center" });
    ctx.fillText("CSV", s / 2, s / 2 + 8);
  }
}
