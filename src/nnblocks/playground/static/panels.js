// The text panels: the last step's gradient norms, the finite-difference check, the chain rule of a click.

function element(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// "W2[3,1]": the k-th Linear layer's weight, as the chain-rule trace names it (row = unit it feeds, column = source).
export function weightName({ layer, to, from }) {
  return `W${layer + 1}[${to},${from}]`;
}

function fmt(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  return Math.abs(x) > 0 && Math.abs(x) < 1e-3 ? x.toExponential(3) : x.toFixed(5);
}

// One bar per parameter tensor, on a log scale from 1e-6 to 10 (gradients span many decades).
export function showGradNorms(box, norms) {
  box.innerHTML = "";
  if (!norms.length) { box.append(element("small", "press step or play")); return; }
  for (const { name, norm } of norms) {
    const row = element("div", undefined, "bar");
    const fill = element("span", undefined, "fill");
    const share = norm === null ? 1 : norm > 0 ? (Math.log10(norm) + 6) / 7 : 0;
    fill.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
    const track = element("span");
    track.append(fill);
    row.append(element("code", name), track, element("code", norm === null ? "not finite" : norm.toExponential(2)));
    box.append(row);
  }
}

export function showCheck(box, result) {
  box.innerHTML = "";
  const table = element("table");
  const head = element("tr");
  for (const h of ["parameter", "max rel. error", "engine", "finite diff."]) head.append(element("th", h));
  table.append(head);
  for (const p of result.parameters) {
    const row = element("tr", undefined, p.ok ? "" : "fail");
    row.append(element("td", p.name), element("td", p.max_rel_error.toExponential(1)),
               element("td", fmt(p.engine)), element("td", fmt(p.numeric)));
    table.append(row);
  }
  const ok = result.parameters.every(p => p.ok);
  box.append(element("small", `${result.samples} elements per tensor on the current batch of ${result.batch}, ` +
    `float64 central differences; tolerance ${result.tolerance}: ${ok ? "all agree" : "MISMATCH"}`), table);
  for (const note of [result.note, result.penalty_note, ...result.warnings]) if (note) box.append(element("p", note));
}

// As `nnblocks explain` prints a step: the op, its local derivatives, then the line with the numbers plugged in.
function lineBlock(box, line) {
  box.append(element("div", `step: ${line.step}`, "step"));
  box.append(element("div", `local derivatives: ${line.formula}`, "step"));
  box.append(element("pre", line.line));
}

export function showMaths(box, result) {
  box.innerHTML = "";
  box.append(element("b", result.title));
  for (const note of result.notes) box.append(element("div", note, "note"));
  if (result.upstream.length) {
    box.append(element("div", "how the gradient reaches it (first sample of the batch):"));
    result.upstream.forEach(line => lineBlock(box, line));
  }
  box.append(element("div", "its gradient: upstream gradient x local derivative, summed over the batch:"));
  result.lines.forEach(line => lineBlock(box, line));
  const verdict = element("div", undefined, "verdict");
  verdict.append(element("span", "chain rule (backprop)"), element("code", fmt(result.gradient)),
                 element("span", `finite difference (h = ${result.fd_step})`),
                 element("code", fmt(result.finite_difference)),
                 element("span", "relative difference"), element("code", result.relative_error.toExponential(1)));
  box.append(verdict);
}
