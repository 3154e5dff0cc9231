// The playground page: controls that send settings and commands, and views drawn from each frame the server sends.
import { ApiError, Session, request } from "./api.js";
import { drawBoundary, drawCurve, drawIcon } from "./draw.js";
import { NetworkView } from "./network.js";
import { showCheck, showGradNorms, showMaths, weightName } from "./panels.js";

const $ = id => document.getElementById(id);
const PENALTIES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3];
const OUTPUT_LABELS = { softmax: "softmax + cross-entropy", sigmoid: "sigmoid + BCE", linear: "linear + MSE" };
const OPTIMIZER_LABELS = { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" };
const ACTIVATION_LABELS = { tanh: "tanh", relu: "ReLU", sigmoid: "sigmoid", linear: "linear",
                            leaky_relu: "leaky ReLU" };

// What the page knows; window.playground exposes it (the browser test reads frames and timings from here).
const state = window.playground = {
  session: null, options: null, settings: null, frame: null, points: {}, firstOfRun: {}, upload: null,
  stats: { frames: 0, times: [], playClickedAt: null, playToFirstFrameMs: null, stepAtPlay: null },
};
let network = null;

function showMessage(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

function fail(err) {
  showMessage(err instanceof ApiError ? err.message : String(err));
}

// ---- settings: send a change, then show what the server accepted ------------------------------------------------
async function send(changes) {
  try {
    const answer = await state.session.settings(changes);
    showMessage("");
    sync(answer.settings);
  } catch (err) {
    fail(err);
    sync(state.settings);  // back to what the server holds
  }
}

function sync(settings) {
  if (!settings) return;
  state.settings = settings;
  for (const key of ["samples", "noise", "test_share", "batch_size", "dropout", "classes", "seed"]) {
    $(key).value = settings[key];
  }
  for (const key of ["optimizer", "lr", "l1", "l2", "output"]) $(key).value = String(settings[key]);
  $("samples-out").value = settings.samples;
  $("noise-out").value = settings.noise.toFixed(2);
  $("test-share-out").value = `${Math.round(settings.test_share * 100)}%`;
  $("batch-out").value = settings.batch_size;
  $("dropout-out").value = settings.dropout.toFixed(2);
  $("classes-row").hidden = !state.options.classed.includes(settings.dataset);
  $("layer-count").textContent = settings.hidden.length;
  document.querySelectorAll(".datasets button").forEach(b =>
    b.classList.toggle("selected", b.dataset.name === settings.dataset));
}

function fillSelect(select, values, label = v => v) {
  select.innerHTML = "";
  for (const v of values) select.add(new Option(label(v), String(v)));
}

function buildControls(options) {
  fillSelect($("optimizer"), options.optimizers, v => OPTIMIZER_LABELS[v] || v);
  fillSelect($("lr"), options.learning_rates);
  fillSelect($("l1"), PENALTIES);
  fillSelect($("l2"), PENALTIES);
  fillSelect($("output"), Object.keys(options.outputs), v => OUTPUT_LABELS[v] || v);
  $("samples").max = options.limits.max_samples;
  $("classes").max = options.limits.max_classes;
  for (const name of options.datasets) {
    const button = document.createElement("button");
    button.dataset.name = name;
    button.title = name === "upload" ? "your CSV file" : name;
    const icon = document.createElement("canvas");
    icon.width = icon.height = 48;
    drawIcon(icon, name);
    button.append(icon, name);
    button.addEventListener("click", () => chooseDataset(name));
    $("datasets").appendChild(button);
  }
  const numeric = { samples: parseInt, noise: parseFloat, test_share: parseFloat, batch_size: parseInt,
                    dropout: parseFloat, classes: parseInt, seed: parseInt };
  for (const [key, parse] of Object.entries(numeric)) {
    $(key).addEventListener("change", () => send({ [key]: parse($(key).value) }));
  }
  for (const key of ["lr", "l1", "l2"]) {
    $(key).addEventListener("change", () => send({ [key]: parseFloat($(key).value) }));
  }
  for (const key of ["optimizer", "output"]) $(key).addEventListener("change", () => send({ [key]: $(key).value }));
  $("samples").addEventListener("input", () => { $("samples-out").value = $("samples").value; });
  $("noise").addEventListener("input", () => { $("noise-out").value = (+$("noise").value).toFixed(2); });
  $("batch_size").addEventListener("input", () => { $("batch-out").value = $("batch_size").value; });
}

// A data set comes with the output that fits it: linear for the regression plane, softmax for classes.
function chooseDataset(name) {
  if (name === "upload" && !state.upload) { $("upload").click(); return; }
  const changes = { dataset: name };
  if (name === "plane") changes.output = "linear";
  else if (name !== "upload" && state.settings.output === "linear") changes.output = "softmax";
  if (name === "upload" && state.upload) changes.output = state.upload.task === "regression" ? "linear" : "softmax";
  if (state.settings.output === "sigmoid" && ["blobs", "spirals"].includes(name) && state.settings.classes > 2) {
    changes.output = "softmax";
  }
  send(changes);
}

async function uploadFile() {
  const file = $("upload").files[0], message = $("upload-message");
  $("upload").value = "";
  if (!file) return;
  message.hidden = false;
  message.className = "upload-message";
  const limit = state.options.limits.max_upload_bytes;
  if (file.size > limit) {
    message.textContent = `${file.name} has ${file.size.toLocaleString()} bytes; the playground takes files up to ` +
      `${limit.toLocaleString()} bytes`;
    return;
  }
  try {
    const answer = await state.session.upload(file);
    state.upload = answer;
    message.className = "upload-message ok";
    message.textContent = `${answer.name}: ${answer.rows} rows, ` +
      (answer.task === "regression" ? "real-valued targets (regression)" : `${answer.classes} classes`);
    sync(answer.settings);
  } catch (err) {
    message.textContent = err.message;
  }
}

// ---- hidden layers: add/remove layers and neurons, one activation each ------------------------------------------
function changeLayers(hidden, activation) {
  send(activation ? { hidden, activation } : { hidden });
}

function layerControls(columns) {
  const box = $("layer-controls"), s = state.settings;
  box.innerHTML = "";
  s.hidden.forEach((width, l) => {
    const div = document.createElement("div");
    div.className = "layer";
    div.style.left = `${columns[l + 1] + (network ? network.node / 2 : 0)}px`;
    const minus = button("−", () => {
      if (width > 1) { const h = [...s.hidden]; h[l] = width - 1; changeLayers(h); }
    });
    const plus = button("+", () => { const h = [...s.hidden]; h[l] = width + 1; changeLayers(h); });
    const select = document.createElement("select");
    fillSelect(select, state.options.activations, v => ACTIVATION_LABELS[v] || v);
    select.value = s.activation[l];
    select.addEventListener("change", () => {
      const a = [...s.activation]; a[l] = select.value; changeLayers(s.hidden, a);
    });
    div.append(minus, ` ${width} `, plus, document.createElement("br"), select);
    box.appendChild(div);
  });
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

// ---- frames -------------------------------------------------------------------------------------------------------
function onPoints(points) {
  if (points.task === "regression") {
    const all = [...points.train.y, ...points.test.y];
    points.targetRange = [Math.min(...all), Math.max(...all)];
  }
  state.points[points.data_version] = points;
  for (const v of Object.keys(state.points)) if (+v < points.data_version - 1) delete state.points[v];
}

function onFrame(frame) {
  const stats = state.stats, now = performance.now();
  stats.frames += 1;
  stats.times.push(now);
  if (stats.times.length > 200) stats.times.shift();
  if (stats.playClickedAt !== null && frame.playing && frame.step > stats.stepAtPlay) {
    stats.playToFirstFrameMs = now - stats.playClickedAt;
    stats.playClickedAt = null;
  }
  if (!(frame.run in state.firstOfRun)) {
    state.firstOfRun = { [frame.run]: frame };
  }
  const newRun = !state.frame || state.frame.run !== frame.run;
  state.frame = frame;
  if (newRun) sync(frame.settings);
  render(frame, newRun);
}

function render(frame, newRun) {
  $("epoch").textContent = frame.epoch.toLocaleString();
  $("step-count").textContent = frame.step.toLocaleString();
  $("lr-now").textContent = frame.lr;
  $("play").innerHTML = frame.playing ? "pause" : "&#x25B6; play";
  $("play").classList.toggle("active", frame.playing);
  const loss = frame.loss, pct = v => (v === null || v === undefined ? "" : `${(100 * v).toFixed(1)}%`);
  const num = v => (v === null || v === undefined ? "—" : v.toFixed(4));  // null: not finite (diverging)
  $("train-loss").textContent = num(loss.train);
  $("test-loss").textContent = num(loss.test);
  $("train-acc").textContent = pct(loss.train_accuracy);
  $("test-acc").textContent = pct(loss.test_accuracy);
  $("accuracy-row").hidden = loss.test_accuracy === null || loss.test_accuracy === undefined;
  if (frame.error) showMessage(frame.error);
  const columns = network.build(frame.network);
  if (newRun || $("layer-controls").childElementCount !== frame.network.sizes.length - 2) layerControls(columns);
  network.update(frame);
  drawCurve($("curve"), frame.curve);
  drawBoundary($("boundary"), frame.boundary, state.points[frame.data_version], $("show-test").checked);
  showGradNorms($("grad-norms"), frame.grad_norms);
  if (hovered) showTooltip(hovered);
}

// ---- hover and click on the diagram -------------------------------------------------------------------------------
let hovered = null;

function showTooltip(target, event) {
  const tip = $("tooltip");
  if (!target || !state.frame) { tip.hidden = true; hovered = null; return; }
  hovered = target;
  const w = state.frame.weights[target.layer].w[target.to][target.from];
  tip.textContent = `${weightName(target)} = ${w === null ? "not finite" : w.toFixed(4)}`;
  tip.hidden = false;
  if (event) Object.assign(tip.style, { left: `${event.clientX + 12}px`, top: `${event.clientY + 12}px` });
}

async function explain(body) {
  $("maths").innerHTML = "<small>computing…</small>";
  try {
    showMaths($("maths"), await state.session.post("explain", body));
  } catch (err) {
    $("maths").textContent = err.message;
  }
}

// ---- run controls -------------------------------------------------------------------------------------------------
function command(name, body) {
  return state.session.post(name, body).then(answer => { showMessage(""); return answer; }).catch(fail);
}

function bindRunControls() {
  $("play").addEventListener("click", () => {
    if (state.frame && state.frame.playing) return command("pause");
    state.stats.playClickedAt = performance.now();
    state.stats.stepAtPlay = state.frame ? state.frame.step : 0;
    return command("play");
  });
  $("step").addEventListener("click", () => command("step", { steps: 1 }));
  $("reset").addEventListener("click", () => command("reset"));
  $("new-weights").addEventListener("click", () => command("new-weights").then(a => a && sync(a.settings)));
  $("new-points").addEventListener("click", () => send({ data_seed: state.settings.data_seed + 1 }));
  $("add-layer").addEventListener("click", () => {
    const s = state.settings;
    if (s.hidden.length < state.options.limits.max_layers) changeLayers([...s.hidden, s.hidden.at(-1) || 4]);
  });
  $("remove-layer").addEventListener("click", () => changeLayers(state.settings.hidden.slice(0, -1)));
  $("upload").addEventListener("change", uploadFile);
  $("show-test").addEventListener("change", () => state.frame && render(state.frame, false));
  $("gradient-check").addEventListener("click", async () => {
    $("check-result").innerHTML = "<small>checking…</small>";
    try { showCheck($("check-result"), await state.session.post("gradient-check")); }
    catch (err) { $("check-result").textContent = err.message; }
  });
}

async function start() {
  try {
    state.options = await request("GET", "/api/options");
    buildControls(state.options);
    bindRunControls();
    network = new NetworkView($("network"), {
      onWeight: (layer, to, from) => explain({ weight: { layer, index: [to, from] } }),
      onNeuron: (layer, unit) => explain({ neuron: { layer, unit } }),
      hover: showTooltip,
    });
    state.session = await Session.create();
    $("export-checkpoint").href = state.session.url("checkpoint");
    $("export-code").href = state.session.url("code");
    state.session.listen({
      onFrame, onPoints,
      onClosed: () => showMessage("This session was closed. Reload the page for a new one."),
      onError: () => showMessage("The connection to the playground server was lost. Reload the page."),
    });
    window.addEventListener("pagehide", () => state.session.close());
  } catch (err) {
    fail(err);
  }
}

start();
