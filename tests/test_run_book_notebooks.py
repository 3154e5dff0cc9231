"""tools/run_book_notebooks.py: what it changes in a cell before running it, and a run of two small notebooks of our
own (written in the book's style, not the book's cells) on nnblocks and, where PyTorch is installed, on PyTorch."""
import importlib.util
import json
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "run_book_notebooks.py"
spec = importlib.util.spec_from_file_location("run_book_notebooks", TOOL)
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)


def nb(cell: str, **kw) -> str:
    return runner.rewrite(cell, "nnblocks", kw.pop("data", "/data"), kw.pop("epochs", 1), kw.pop("samples", 100), **kw)


def test_import_lines_become_nnblocks_and_nothing_else():
    cell = ("import torch\nimport torch.nn as nn\nfrom torch.optim import SGD, Adam\nfrom torch import optim\n"
            "from torch.utils.data import Dataset, DataLoader\nfrom torchvision import datasets\n"
            "from torchsummary import summary\nx = torch.tensor([1])  # import torch")
    assert nb(cell).splitlines() == [
        "import nnblocks as torch", "import nnblocks.nn as nn", "from nnblocks.optim import SGD, Adam",
        "from nnblocks import optim", "from nnblocks.utils.data import Dataset, DataLoader",
        "from nnblocks.vision import datasets", "from nnblocks.utils import summary",
        "x = torch.tensor([1])  # import torch"]
    assert runner.rewrite("import torch", "torch", "/data", 1, 100) == "import torch"


def test_data_folder_epochs_samples_and_ipython_lines():
    cell = ("data_folder = '~/data/FMNIST' # any folder\n%matplotlib inline\n!pip install torch_summary\n"
            "for epoch in range(30):\n    pass\nepochs = np.arange(30)+1\ntr_images = fmnist.data\n"
            "val_targets = val_fmnist.targets\n%timeit z = x @ y")
    assert nb(cell, epochs=2, samples=100).splitlines() == [
        "data_folder = '/data' # any folder", "for epoch in range(2):", "    pass", "epochs = np.arange(2)+1",
        "tr_images = fmnist.data[:100]", "val_targets = val_fmnist.targets[:50]", "z = x @ y"]
    assert "range(3)" in nb("for epoch in range(3):\n    pass", epochs=5)  # never more epochs than the notebook's


def test_same_start_sets_the_weights_and_turns_shuffling_off():
    cell = "trn_dl = DataLoader(train, batch_size=32, shuffle=True)\nmodel, loss_fn, optimizer = get_model()"
    out = nb(cell, same_start=True)
    assert "shuffle=False" in out and "for _p in model.parameters():" in out
    out = nb("model = nn.Sequential(\n    nn.Linear(2, 8)\n).to(device)", same_start=True)
    assert "for _p in model.parameters():" in out
    assert "_p" not in nb(cell)


def test_cells_of_an_ipynb_and_of_a_py_file(tmp_path: Path):
    book = {"cells": [{"cell_type": "markdown", "source": ["# title"]},
                      {"cell_type": "code", "source": ["import torch\n", "x = 1"]},
                      {"cell_type": "code", "source": [""]}]}
    (tmp_path / "a.ipynb").write_text(json.dumps(book))
    (tmp_path / "b.py").write_text("# %%\nx = 1\n# %%\n\n# %%\ny = 2\n")
    assert runner.notebook_cells(tmp_path / "a.ipynb") == ["import torch\nx = 1"]
    assert runner.notebook_cells(tmp_path / "b.py") == ["x = 1", "y = 2"]


TOY = '''# %%
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader
from torch.optim import SGD
device = 'cuda' if torch.cuda.is_available() else 'cpu'
x = [[1., 2.], [3., 4.], [5., 6.], [7., 8.]]
y = [[3.], [7.], [11.], [15.]]
# %%
class XY(Dataset):
    def __init__(self, x, y):
        self.x, self.y = torch.tensor(x).to(device), torch.tensor(y).to(device)
    def __getitem__(self, ix):
        return self.x[ix], self.y[ix]
    def __len__(self):
        return len(self.x)
dl = DataLoader(XY(x, y), batch_size=2, shuffle=True)
model = nn.Sequential(
    nn.Linear(2, 4),
    nn.ReLU(),
    nn.Linear(4, 1)
).to(device)
opt = SGD(model.parameters(), lr=0.001)
loss_history = []
for epoch in range(3):
    for bx, by in dl:
        opt.zero_grad()
        loss = nn.MSELoss()(model(bx), by)
        loss.backward()
        opt.step()
        loss_history.append(loss.item())
# %%
model(torch.tensor([[9., 10.]]))
# %%
assert device == 'cuda', "a GPU cell, as the book has one"
'''


def test_a_run_tabulates_cells_failures_and_the_numbers(tmp_path: Path, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "toy.py").write_text(TOY)
    backend = "both" if runner._has("torch") else "nnblocks"
    code = runner.main([str(folder), "--backend", backend, "--epochs", "2", "--same-start",
                        "--json", str(tmp_path / "out.json")])
    shown = capsys.readouterr().out
    assert code == 0, shown  # the GPU cell fails on both libraries alike (or PyTorch is not there to judge it)
    row = json.loads((tmp_path / "out.json").read_text())["rows"][0]
    assert row["cells"] == 4 and row["failing_nnblocks"] == [4] and row["to_fix"] == []
    assert row["unjudged"] == ([] if backend == "both" else [4])
    runs = json.loads((tmp_path / "out.json").read_text())["runs"]["toy"]
    assert len(runs["nnblocks"][1]["values"]["loss_history"]) == 4  # 2 epochs (capped from 3) x 2 batches
    assert "grad_fn=" in runs["nnblocks"][2]["output"]  # the last expression is shown, as Jupyter shows it
    if backend == "both":
        ours, theirs = runs["nnblocks"][1]["values"]["loss_history"], runs["torch"][1]["values"]["loss_history"]
        assert ours == pytest.approx(theirs, rel=1e-4)  # same start, same batches: the same losses
        assert "largest relative difference" in shown
