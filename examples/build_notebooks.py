"""Write the example notebooks in ``examples/`` from the cells below, so they stay in sync with the package.

    python examples/build_notebooks.py            # (re)write every .ipynb next to this script, without outputs
    python examples/build_notebooks.py --check    # exit 1 if a committed notebook differs from what is built here

Edit the cells here, never the .ipynb files by hand. Cell ids are derived from the notebook and cell number, so the
same source always gives the same bytes (a diff of an .ipynb shows only real changes). Every notebook writes its
files into the folder it runs in (relative paths), and each runs top to bottom in a few seconds:
``tests/test_notebooks.py`` executes them all.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# ---- 01: chapter 1 by hand ---------------------------------------------------------------------------------------
CHAPTER1 = [
    ("md", """# Chapter 1 by hand: a network is arrays and a loop

Everything in this notebook is plain NumPy, from `nnblocks.fundamentals` (which imports nothing else of nnblocks).
We follow the chapter block by block: the feedforward pass, activations, losses, gradients by **finite
differences** and by the **chain rule**, and what the **learning rate** does to gradient descent."""),
    ("code", """%matplotlib inline
import numpy as np
from nnblocks import fundamentals as F

np.set_printoptions(precision=6, suppress=True)"""),
    ("md", """## 1. Feedforward: the 2-3-1 network

The chapter's network has 2 inputs, 3 sigmoid hidden units and 1 linear output. Its weights are a list
`[W1, b1, W2, b2]`, with `W1` of shape (inputs, hidden) so a layer is `sigmoid(x @ W1 + b1)`. The sample is
`x = [[1, 1]]` with target `y = [[0]]`; the loss is the mean squared error."""),
    ("code", """x, y, weights = F.network_231()
print("layer sizes:", F.layer_sizes(weights))
for name, w in zip(["W1", "b1", "W2", "b2"], weights):
    print(f"{name} {w.shape}:\\n{w}")
activations = F.forward_layers(x, weights)          # the input, then each layer's output
print("hidden layer:", activations[1], " output:", activations[2])
print("loss:", F.feed_forward(x, y, weights))        # the chapter's 0.33455009"""),
    ("md", """## 2. Activations and their derivatives

Each activation comes with its derivative. The stable forms never exponentiate a large positive number, so
`sigmoid(-1000)` is 0, not an overflow warning."""),
    ("code", """z = np.linspace(-4, 4, 9)
for name in ["sigmoid", "tanh", "relu", "linear"]:
    f, df = getattr(F, name), getattr(F, name + "_grad")
    print(f"{name:8s} f(z)  = {f(z)}")
    print(f"{'':8s} f'(z) = {df(z)}")
print("sigmoid at +-1000:", F.sigmoid(np.array([-1000.0, 1000.0])))
print("softmax of [1, 2, 3]:", F.softmax(np.array([[1.0, 2.0, 3.0]])))"""),
    ("code", """from matplotlib.figure import Figure

fig = Figure(figsize=(8, 3))
axes = fig.subplots(1, 2)
zz = np.linspace(-4, 4, 200)
for name in ["sigmoid", "tanh", "relu"]:
    axes[0].plot(zz, getattr(F, name)(zz), label=name)
    axes[1].plot(zz, getattr(F, name + "_grad")(zz), label=name)
axes[0].set_title("activation"); axes[1].set_title("derivative")
for ax in axes:
    ax.grid(alpha=0.3); ax.legend()
fig"""),
    ("md", """A derivative can always be checked numerically: nudge the input by a small `h` both ways."""),
    ("code", """h = 1e-5
central = (F.sigmoid(z + h) - F.sigmoid(z - h)) / (2 * h)
print("largest |sigmoid_grad - central difference|:", np.max(np.abs(F.sigmoid_grad(z) - central)))"""),
    ("md", """## 3. Losses

Mean squared error and mean absolute error for regression, binary and categorical cross-entropy for
probabilities (clipped away from 0 so `log(0)` never happens). Each has its gradient with respect to the
predictions."""),
    ("code", """pred, target = np.array([[0.5, 2.0]]), np.array([[0.0, 1.0]])
print("mse", F.mse(pred, target), " gradient", F.mse_grad(pred, target))
print("mae", F.mae(pred, target), " gradient", F.mae_grad(pred, target))
p = np.array([[0.9], [0.2]]); t = np.array([[1], [0]])
print("binary cross-entropy", F.binary_cross_entropy(p, t))
probs = np.array([[0.7, 0.2, 0.1]]); onehot = np.array([[1, 0, 0]])
print("categorical cross-entropy", F.categorical_cross_entropy(probs, onehot), "= -log(0.7) =", -np.log(0.7))"""),
    ("md", """## 4. Gradients by finite differences

The chapter's method treats the loss as a black box: nudge one weight by `h = 1e-4`, re-run the network, and
divide the change in loss by `h`. It costs one forward pass per weight (13 here; 795,010 for the chapter-3
network, which is why nobody trains that way). The central difference `(L(w+h) - L(w-h)) / 2h` is far more
accurate for twice the cost."""),
    ("code", """forward = F.finite_difference_gradients(x, y, weights)                    # the chapter's forward difference
central = F.finite_difference_gradients(x, y, weights, scheme="central")
chain = F.chain_rule_gradients(x, y, weights)
for name, f, c, r in zip(["W1", "b1", "W2", "b2"], forward, central, chain):
    print(f"{name}: forward-difference error {np.max(np.abs(f - r)):.1e}, central {np.max(np.abs(c - r)):.1e}")"""),
    ("md", """With the chapter's dtypes the weights are float32, so a nudged weight `w + 1e-4` is rounded to float32 and
both schemes carry that rounding (1e-5 to 1e-4 here). In float64 the central difference agrees with the chain rule to ~1e-11:"""),
    ("code", """x64, y64, w64 = F.network_231("float64")
chain64 = F.chain_rule_gradients(x64, y64, w64)
for scheme in ["forward", "central"]:
    fd = F.finite_difference_gradients(x64, y64, w64, scheme=scheme)
    print(scheme, max(np.max(np.abs(a - b)) for a, b in zip(fd, chain64)))"""),
    ("md", """## 5. The chain rule

Backpropagation gets every derivative in one backward pass. For the output layer (linear, MSE over one sample):
`dL/dout = 2 (out - y)`, `dL/dW2 = hidden^T dL/dout`, `dL/db2 = dL/dout`; one layer down,
`dL/dhidden = dL/dout W2^T`, through the sigmoid `dL/da1 = dL/dhidden * s(1 - s)`, and `dL/dW1 = x^T dL/da1`.
Written out by hand it gives exactly what `chain_rule_gradients` returns:"""),
    ("code", """W1, b1, W2, b2 = [w.astype(np.float64) for w in weights]
xf = x.astype(np.float64)
s = F.sigmoid(xf @ W1 + b1)
out = s @ W2 + b2
d_out = 2 * (out - y) / out.size
d_W2, d_b2 = s.T @ d_out, d_out.sum(axis=0)
d_a1 = (d_out @ W2.T) * s * (1 - s)
d_W1, d_b1 = xf.T @ d_a1, d_a1.sum(axis=0)
for name, mine, ref in zip(["W1", "b1", "W2", "b2"], [d_W1, d_b1, d_W2, d_b2], chain):
    print(name, np.allclose(mine, ref), mine.ravel())"""),
    ("md", """## 6. Training, and the learning rate

Gradient descent: `w <- w - lr * dL/dw`, repeated. The 2-3-1 network with `lr = 0.01` for 100 epochs (finite
differences, as in the chapter):"""),
    ("code", """from nnblocks.viz.curves import learning_rate_study_figure, loss_curve_figure

history = F.gradient_descent(x, y, weights, lr=F.NETWORK_LR, epochs=F.NETWORK_EPOCHS)
print(f"loss {history.losses[0]:.6f} -> {history.final_loss:.6f} after {history.epochs} epochs")
loss_curve_figure({"forward difference": history.losses}, title="2-3-1 network, lr 0.01")"""),
    ("md", """The chapter's learning-rate study: one linear neuron `y = W x + b` fitting `y = 3x` from `W = b = 0`, for 10
epochs at three learning rates, with the chapter's forward differences and, for comparison, the chain rule.
Too small crawls, a good one converges, too large overshoots further at every step and diverges."""),
    ("code", """def neuron_run(lr, method):
    xs, ys, ws = F.linear_neuron()
    h = F.gradient_descent(xs, ys, ws, lr=lr, epochs=F.STUDY_EPOCHS, method=method)
    return {"W": [float(np.ravel(step[0])[0]) for step in h.weights],
            "b": [float(np.ravel(step[1])[0]) for step in h.weights],
            "loss": list(h.losses) + [float(h.final_loss)]}

fd_runs = {lr: neuron_run(lr, "forward") for lr in F.LEARNING_RATES}
chain_runs = {lr: neuron_run(lr, "chain") for lr in F.LEARNING_RATES}
for lr in F.LEARNING_RATES:
    print(f"lr {lr:<4g} final W: forward difference {fd_runs[lr]['W'][-1]:12.6g}, "
          f"chain rule {chain_runs[lr]['W'][-1]:12.6g}")
learning_rate_study_figure(fd_runs, reference=chain_runs, label="forward difference", reference_label="chain rule",
                           title="y = W x + b fitting y = 3x")"""),
    ("md", """At lr 1 the two disagree: once |W| is in the thousands, a float32 weight nudged by `h = 1e-4` rounds back to
the same number (float32 numbers that large are ~1e-3 apart), so the finite difference sees no change in the
loss and reports a gradient of 0, and the run freezes. The chain rule keeps following the true divergence.
`nnblocks demo` explains every such step."""),
    ("md", """`nnblocks demo` runs both experiments with a gradient check at every step and writes these plots;
the next notebook does the same things with the autodiff engine."""),
]

# ---- 02: the engine, toy-sum, DataLoader, save/load --------------------------------------------------------------
CHAPTER2 = [
    ("md", """# Chapter 2: the engine, the `toy-sum` network, DataLoader, save and load

`nnblocks.Tensor` records the operations applied to it; `backward()` walks that graph back, applying the chain
rule one op at a time. On top sit PyTorch-style `nn`, `optim`, `data` and `train`."""),
    ("code", """%matplotlib inline
from pathlib import Path

import numpy as np
import nnblocks
from nnblocks import Tensor, nn, optim
from nnblocks.data import DataLoader, TensorDataset

np.set_printoptions(precision=5, suppress=True)"""),
    ("md", """## 1. Tensors and backward

`z = sum(w * x + b)`: each element's derivative is readable by hand, `dz/dw = x`, `dz/db = 1`, `dz/dx = w`."""),
    ("code", """x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
w = Tensor([0.5, -1.0, 2.0], requires_grad=True)
b = Tensor(0.25, requires_grad=True)
z = (w * x + b).sum()
z.backward()
print("z =", z.item())
print("dz/dw =", w.grad, " dz/db =", b.grad, " dz/dx =", x.grad)"""),
    ("md", """## 2. The chapter-1 network, as modules

The same 2-3-1 network as `nn.Linear` layers (which store `W` as (out, in), as PyTorch does, so the chapter's
`W1` is transposed). One backward pass gives the gradients the chapter computed by hand."""),
    ("code", """from nnblocks.fundamentals import chain_rule_gradients, network_231

x1, y1, weights = network_231("float64")
model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64), nn.Sigmoid(), nn.Linear(3, 1, dtype=np.float64))
model.load_state_dict({"0.weight": weights[0].T, "0.bias": weights[1],
                       "2.weight": weights[2].T, "2.bias": weights[3]})
loss = nn.MSELoss()(model(Tensor(x1)), Tensor(y1))
loss.backward()
print("loss", loss.item())
by_hand = chain_rule_gradients(x1, y1, weights)
for (name, p), ref in zip(model.named_parameters(), by_hand):
    print(f"{name:9s} engine {p.grad.ravel()}  same as chapter 1: {np.allclose(p.grad, ref.T.reshape(p.shape))}")"""),
    ("md", """`nnblocks.gradcheck` compares any function's gradients with float64 central differences:"""),
    ("code", """report = nnblocks.gradcheck(lambda a, c: (a.tanh() * c).sum(),
                           [Tensor(np.linspace(-1, 1, 6), requires_grad=True, name="a"),
                            Tensor(np.arange(6.0), requires_grad=True, name="c")])
print(report)"""),
    ("md", """## 3. `toy-sum`: learn `x1 + x2` from four samples

`x = [[1,2],[3,4],[5,6],[7,8]]`, `y = [[3],[7],[11],[15]]`, `Linear(2, 8) -> ReLU -> Linear(8, 1)`, MSE, SGD lr 0.001,
50 epochs. First by hand with `fit`:"""),
    ("code", """from nnblocks.data import chapter2_sum
from nnblocks.train import fit

xs, ys = chapter2_sum()
rng = np.random.default_rng(0)
net = nn.Sequential(nn.Linear(2, 8, seed=rng), nn.ReLU(), nn.Linear(8, 1, seed=rng))
loader = DataLoader(TensorDataset(xs, ys), batch_size=4)
history = fit(net, nn.MSELoss(), optim.SGD(net.parameters(), lr=0.001), loader, epochs=50, metrics=None)
print(f"loss {history['loss'][0]:.4f} -> {history['loss'][-1]:.4f}")
net.eval()
print("prediction for [10, 11]:", net(Tensor(np.array([[10.0, 11.0]], dtype=np.float32))).data, "(true sum 21)")"""),
    ("md", """A `DataLoader` with `batch_size=2` and seeded shuffling makes two updates per epoch:"""),
    ("code", """loader2 = DataLoader(TensorDataset(xs, ys), batch_size=2, shuffle=True, seed=0)
for xb, yb in loader2:
    print("batch x", xb.data.tolist(), " y", yb.data.ravel().tolist())
print(len(loader2), "batches per epoch")"""),
    ("md", """The registered experiment does all of the chapter's steps (full batch, batch 2, hidden values through a forward
hook, `summary()`, a checkpoint round trip) and writes a report into the folder we give it:"""),
    ("code", """from nnblocks.experiments import RunConfig, run

result = run("toy-sum", RunConfig(out=Path("toy-sum-out")))
for note in result.notes:
    print("-", note)
for v in result.variants:
    print(f"{v.name:13s} final training loss {v.history['loss'][-1]:.4g}")
print(sorted(p.name for p in Path("toy-sum-out").iterdir()))"""),
    ("md", """## 4. Save and load

A checkpoint is one `.npz` (no pickle): weights, optimizer state, history and random states. Loading it into a
model built with other weights gives back exactly the same predictions."""),
    ("code", """from nnblocks.train import load_checkpoint, save_checkpoint

opt = optim.SGD(net.parameters(), lr=0.001)
path = save_checkpoint(Path("toy-sum.npz"), net, opt, epoch=50, history=history)
other = nn.Sequential(nn.Linear(2, 8, seed=7), nn.ReLU(), nn.Linear(8, 1, seed=8)).eval()
probe = Tensor(np.array([[10.0, 11.0]], dtype=np.float32))
print("before load:", other(probe).data.ravel())
ckpt = load_checkpoint(path, other)
print("after load: ", other(probe).data.ravel(), " epoch", ckpt.epoch)
assert np.array_equal(other(probe).data, net(probe).data)"""),
]

# ---- 03: chapter 3 studies, shortened ----------------------------------------------------------------------------
CHAPTER3 = [
    ("md", """# Chapter 3: the studies, shortened

Chapter 3 trains `784 -> 1000 -> ReLU -> 10` on Fashion-MNIST and changes one thing at a time: input scaling,
batch size, optimizer, learning rate, depth, batch norm, dropout, regularization. `nnblocks experiment run NAME`
runs each study in full. Here two of them run **offline** on the 1,797 8x8 digits shipped with nnblocks, on a
small subset and for a few epochs, so the notebook takes seconds (the numbers are indicative only). Every
study runs the same way: `experiments.run(name, RunConfig(dataset="digits", ...))`."""),
    ("code", """%matplotlib inline
from pathlib import Path

from IPython.display import Image, display
from nnblocks import experiments
from nnblocks.experiments import RunConfig

print(experiments.names())"""),
    ("code", """config = RunConfig(dataset="digits", epochs=3, subset=400, seed=0)

def show(result):
    print(result.title)
    print(result.data)
    for v in result.variants:
        final = v.final
        print(f"  {v.name:12s} {v.status:8s} train loss {final.get('loss', float('nan')):.4g}  "
              f"val accuracy {final.get('val_accuracy', float('nan')):.1%}")
    for line in result.notice:
        print("  *", line)"""),
    ("md", """## Batch size: 32 against 10,000

With 400 training images, a batch of 10,000 is the whole set: one update per epoch against 13."""),
    ("code", """from dataclasses import replace

batch = experiments.run("batch-size", replace(config, out=Path("studies") / "batch-size"))
show(batch)
display(Image(filename=str(Path("studies") / "batch-size" / "curves.png"), width=700))"""),
    ("md", """## Optimizer: SGD against Adam at the same learning rate"""),
    ("code", """optimizer = experiments.run("optimizer", replace(config, out=Path("studies") / "optimizer"))
show(optimizer)
display(Image(filename=str(Path("studies") / "optimizer" / "curves.png"), width=700))"""),
    ("md", """Each study also wrote a Markdown report (configuration table, results, per-epoch values) next to its plots:"""),
    ("code", """report = (Path("studies") / "optimizer" / "report.md").read_text()
print(report[:1200])"""),
]

# ---- 04: the lab -------------------------------------------------------------------------------------------------
LAB = [
    ("md", """# The lab: look inside

Tools for seeing what the network does: the chain rule printed step by step, the computational graph drawn,
a decision boundary on the moons, and gradient checks during training (including one that catches a bug)."""),
    ("code", """%matplotlib inline
import warnings
from pathlib import Path

import numpy as np
from nnblocks import Tensor, nn, optim
from nnblocks.fundamentals import network_231
from nnblocks.viz import draw_graph, explain

x, y, w = network_231("float64")
model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64), nn.Sigmoid(), nn.Linear(3, 1, dtype=np.float64))
model.load_state_dict({"0.weight": w[0].T, "0.bias": w[1], "2.weight": w[2].T, "2.bias": w[3]})
X, Y = Tensor(x), Tensor(y)
loss_fn = lambda: nn.MSELoss()(model(X), Y)"""),
    ("md", """## The chain rule, step by step

`explain` walks the graph from the loss back to every weight: *upstream gradient x local derivative = gradient*,
with the central finite difference of the same weight beside it."""),
    ("code", """trace = explain(loss_fn, dict(model.named_parameters()), max_elements=4)
text = trace.to_text()
print("\\n".join(text.splitlines()[:40]))
print("...")"""),
    ("md", """## The graph

Blue boxes are ops, orange ones parameters, grey ones data. With values and gradients:"""),
    ("code", """fig = draw_graph(loss_fn(), "lab-out/graph_231.png", show_values=True, show_grads=True,
                 params=dict(model.named_parameters()))
fig"""),
    ("md", """## A decision boundary on the moons"""),
    ("code", """from nnblocks.data import DataLoader, TensorDataset, moons
from nnblocks.train import fit
from nnblocks.viz import plot_decision_boundary

Xm, ym = moons(400, noise=0.15, seed=0)
net = nn.Sequential(nn.Linear(2, 16, seed=0), nn.Tanh(), nn.Linear(16, 16, seed=1), nn.Tanh(), nn.Linear(16, 2, seed=2))
history = fit(net, nn.CrossEntropyLoss(), optim.Adam(net.parameters(), lr=0.02),
              DataLoader(TensorDataset(Xm, ym), batch_size=32, shuffle=True, seed=0), epochs=30)
print(f"training accuracy {history['accuracy'][-1]:.1%}")
plot_decision_boundary(net, Xm, ym, path="lab-out/moons.png")"""),
    ("md", """## Spot checks of the gradients during training

`fit(..., check_gradients=N)` re-checks the engine's gradients on the first step and every N-th: for 5 weights
per parameter, a float64 central difference of the loss on the *same batch*, before the optimizer step. The
largest relative error per parameter lands in `history.spot_checks`."""),
    ("code", """from nnblocks.data import digits
from nnblocks.train.spot_check import SpotCheckWarning, summarize
from nnblocks.viz.spot_check import plot_spot_checks

Xd, yd = digits(scale=16.0)
loader = DataLoader(TensorDataset(Xd[:600], yd[:600]), batch_size=32, shuffle=True, seed=0)
mlp = nn.Sequential(nn.Linear(64, 64, seed=0), nn.ReLU(), nn.Dropout(0.2, seed=1), nn.Linear(64, 10, seed=2))
h = fit(mlp, nn.CrossEntropyLoss(), optim.Adam(mlp.parameters(), lr=1e-3), loader, epochs=3, check_gradients=5)
for name, err in summarize(h.spot_checks).items():
    print(f"{name:9s} largest relative error {err:.1e}")
plot_spot_checks(h)"""),
    ("md", """Now a bug on purpose: an op whose forward is ReLU but whose backward doubles the gradient. Training still runs
(the loss even goes down), but the spot check names the layer, the weight and both values:"""),
    ("code", """from nnblocks.ops.base import Function

class DoubledReLU(Function):
    def forward(self, a):
        self.positive = a > 0
        return np.maximum(a, 0)

    def backward(self, g):
        return 2 * g * self.positive   # wrong on purpose: should be g * self.positive

class BrokenReLU(nn.Module):
    def forward(self, x):
        return DoubledReLU.apply(x)

buggy = nn.Sequential(nn.Linear(64, 32, seed=0), BrokenReLU(), nn.Linear(32, 10, seed=1))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", SpotCheckWarning)
    hb = fit(buggy, nn.CrossEntropyLoss(), optim.Adam(buggy.parameters(), lr=1e-3), loader, epochs=1,
             check_gradients=10)
print(len(caught), "warnings; the first:")
print(caught[0].message)
print({name: round(err, 3) for name, err in summarize(hb.spot_checks).items()})"""),
]

NOTEBOOKS = {
    "01_chapter1_fundamentals.ipynb": CHAPTER1,
    "02_chapter2_engine.ipynb": CHAPTER2,
    "03_chapter3_studies.ipynb": CHAPTER3,
    "04_lab.ipynb": LAB,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of ``NOTEBOOKS``), without outputs, with deterministic cell ids."""
    nb = new_notebook(metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    stem = name.split("_")[0]
    for i, (kind, source) in enumerate(NOTEBOOKS[name]):
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell["id"] = f"nb{stem}-cell{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare the committed notebooks with the cells")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / name
        wanted = text(build(name))
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != wanted:
                stale.append(name)
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run python examples/build_notebooks.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
