"""The README's Python examples run as written (so the tour cannot drift from the package)."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    # The op excerpt shows a class out of its module context; it is tested where it lives (ops/activation.py).
    return [b for b in blocks if not b.lstrip().startswith(("class ", "@register"))]


def test_readme_examples_run_and_give_the_chapter_numbers(capsys):
    blocks = python_blocks()
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # chapter 1 by hand: the chapter's initial loss, and finite differences agree with the chain rule
    out = capsys.readouterr().out
    assert "0.33455009" in out
    np.testing.assert_allclose(namespace["cr"][3], namespace["fd"][3], rtol=1e-3)
    # the engine's 2-3-1 network, 100 epochs of SGD at lr 0.01 on one sample: gradient descent reduced the loss
    losses = namespace["losses"]
    assert len(losses) == 100 and losses[-1] < 0.5 * losses[0]
    # 10 epochs on digits: a learned classifier, far above chance (10%)
    history = namespace["history"]
    assert len(history) == 10
    assert history["accuracy"][-1] > 0.9
