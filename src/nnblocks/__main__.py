import sys

from nnblocks.cli import main

sys.exit(main())
