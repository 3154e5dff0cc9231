// The network diagram: a column of nodes per layer (each hidden neuron shows its output over the plane), one line
// per weight (width by |w|, blue positive, orange negative). Built once per architecture, updated every frame.
import { bytes, diverging, paint, CLASS_COLOURS } from "./draw.js";

const SVG = "http://www.w3.org/2000/svg";

export class NetworkView {
  // handlers: onWeight(layer, to, from), onNeuron(layer, unit), hover(text or null, event)
  constructor(container, handlers) {
    this.container = container;
    this.handlers = handlers;
    this.key = null;
  }

  // (Re)build when the layer sizes, activations or output changed; returns the x position of each column.
  build(network) {
    const key = JSON.stringify([network.sizes, network.activation, network.output]);
    if (key === this.key) return this.columns;
    this.key = key;
    const sizes = network.sizes, w = this.container.clientWidth, h = this.container.clientHeight;
    this.container.innerHTML = "";
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("width", w);
    this.svg.setAttribute("height", h);
    this.container.appendChild(this.svg);
    const biggest = Math.max(...sizes);
    this.node = Math.max(14, Math.min(40, Math.floor((h - 10) / biggest) - 6));
    this.columns = sizes.map((_, l) => 30 + l * (w - 60 - this.node) / (sizes.length - 1));
    this.positions = sizes.map((n, l) => Array.from({ length: n }, (_, i) =>
      [this.columns[l], h / 2 + (i - (n - 1) / 2) * (this.node + 6)]));
    this._edges(sizes);
    this._nodes(network);
    return this.columns;
  }

  _edges(sizes) {
    this.lines = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const layer = [];
      for (let to = 0; to < sizes[l + 1]; to++) {
        const row = [];
        for (let from = 0; from < sizes[l]; from++) {
          const [x1, y1] = this.positions[l][from], [x2, y2] = this.positions[l + 1][to];
          const coords = { x1: x1 + this.node / 2, y1, x2: x2 - this.node / 2, y2 };
          const line = this._line(coords, "weight");
          const hit = this._line(coords, "hit");
          hit.addEventListener("click", () => { this._select(line); this.handlers.onWeight(l, to, from); });
          hit.addEventListener("mousemove", e => this.handlers.hover({ layer: l, to, from }, e));
          hit.addEventListener("mouseleave", e => this.handlers.hover(null, e));
          row.push(line);
        }
        layer.push(row);
      }
      this.lines.push(layer);
    }
  }

  _line(coords, cls) {
    const line = document.createElementNS(SVG, "line");
    for (const [k, v] of Object.entries(coords)) line.setAttribute(k, v);
    line.setAttribute("class", cls);
    this.svg.appendChild(line);
    return line;
  }

  _nodes(network) {
    const sizes = network.sizes, last = sizes.length - 1;
    this.canvases = [];
    sizes.forEach((n, l) => {
      const column = [];
      for (let i = 0; i < n; i++) {
        const [x, y] = this.positions[l][i];
        const div = document.createElement("div");
        div.className = "node" + (l === 0 ? " input" : l === last ? " output" : "");
        Object.assign(div.style, { left: `${x - this.node / 2}px`, top: `${y - this.node / 2}px`,
                                   width: `${this.node}px`, height: `${this.node}px` });
        if (l > 0) div.addEventListener("click", () => { this._select(div); this.handlers.onNeuron(l - 1, i); });
        if (l === last) div.style.background = outputColour(network, i);
        const canvas = document.createElement("canvas");
        if (l < last) div.appendChild(canvas);
        this.container.appendChild(div);
        column.push(canvas);
        if (l === 0) this._label(x - this.node / 2 - 4, y, `x${i + 1}`);
      }
      this.canvases.push(column);
    });
    paintInputs(this.canvases[0]);
  }

  _label(x, y, text) {
    const span = document.createElement("span");
    span.className = "label";
    Object.assign(span.style, { left: `${x}px`, top: `${y}px` });
    span.textContent = text;
    this.container.appendChild(span);
  }

  _select(element) {
    this.container.querySelectorAll(".selected").forEach(e => e.classList.remove("selected"));
    element.classList.add("selected");
  }

  // Every frame: the lines' width and colour from the weights, the hidden neurons' pictures.
  update(frame) {
    frame.weights.forEach((layer, l) => layer.w.forEach((row, to) => row.forEach((w, from) => {
      const line = this.lines[l][to][from];
      if (w === null) { line.setAttribute("stroke", "#c0392b"); return; }  // not finite: a diverged step
      line.setAttribute("stroke", w >= 0 ? "#0877bd" : "#f59322");
      line.setAttribute("stroke-width", (0.4 + Math.min(Math.abs(w), 3) * 1.8).toFixed(2));
      line.setAttribute("stroke-opacity", (0.35 + 0.65 * Math.min(Math.abs(w), 1)).toFixed(2));
    })));
    const n = frame.neurons.n;
    frame.neurons.layers.forEach((layer, l) => layer.forEach((neuron, i) => {
      const cells = bytes(neuron.image);
      paint(this.canvases[l + 1][i], n, k => diverging(cells[k]));
    }));
  }
}

function outputColour(network, i) {
  if (network.loss === "cross-entropy" || (network.loss === "mse" && network.sizes.at(-1) > 1)) {
    return CLASS_COLOURS[i % CLASS_COLOURS.length];
  }
  return "#ddd";
}

// The inputs' own pictures: x1 grows to the right, x2 upwards.
function paintInputs(canvases) {
  const n = 20;
  canvases.forEach((canvas, f) => paint(canvas, n, k => {
    const col = k % n, row = Math.floor(k / n);
    const t = f === 0 ? col / (n - 1) : 1 - row / (n - 1);
    return diverging(255 * t);
  }));
}
