"""``python -m layerspeed``: the command line, as the ``layerspeed`` script runs it."""

import sys

from layerspeed.cli import main

sys.exit(main())
