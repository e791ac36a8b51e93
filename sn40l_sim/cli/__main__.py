"""``python -m sn40l_sim.cli``: the same entry point as the ``sn40l-sim`` script."""

import sys

from sn40l_sim.cli.app import main

sys.exit(main())
