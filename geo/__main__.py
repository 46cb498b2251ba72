"""`python -m geo ...`: the command line of Quanyu."""

import sys

from geo.cli import main

sys.exit(main())
