"""`python -m bench` (make bench): every benchmark of the project on the running test bed.

Today: the data plane (producer throughput, the streaming job's end-to-end throughput); see
bench/dataplane.py for the options of each.
"""

import sys

from bench.dataplane import main

sys.exit(main(sys.argv[1:] or ["all"]))
