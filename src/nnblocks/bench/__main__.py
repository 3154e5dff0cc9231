"""``python -m nnblocks.bench``: the harness's own command line (the parent also starts its workers this way)."""
import sys

from nnblocks.bench.command import main

sys.exit(main())
