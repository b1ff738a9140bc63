"""`python -m bench` (make bench): every figure of issue 10 in one run on the test bed; see bench/run.py."""

import sys

from bench.run import main

sys.exit(main(sys.argv[1:]))
