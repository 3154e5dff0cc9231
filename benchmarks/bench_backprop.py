"""The chapter's finite-difference gradient against the engine's backward (same as ``nnblocks bench --backprop``).

    python benchmarks/bench_backprop.py                 # 2-3-1, 784-10-10, 784-100-10, 784-1000-10
    python benchmarks/bench_backprop.py --fd-sample 500 --fd-batch 256
"""
import sys

from nnblocks.bench import main

if __name__ == "__main__":
    sys.exit(main(["--backprop", *sys.argv[1:]]))
