"""Training speed of the chapter-3 MLP: nnblocks vs PyTorch, a hand-written NumPy MLP and scikit-learn.

A thin script over ``nnblocks.bench`` (the harness lives in the package so that ``nnblocks bench`` works from an
installed copy); it takes the same flags:

    python benchmarks/bench_mlp.py --quick                      # smoke test, seconds
    python benchmarks/bench_mlp.py                              # full: 60,000 samples, 3 epochs x 3 rounds
    python benchmarks/bench_mlp.py --data-dir ~/.cache/nnblocks/mnist --batch-sizes 32 256
"""
import sys

from nnblocks.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
