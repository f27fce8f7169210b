"""``python -m hotline``: the command line, as the ``hotline`` script runs it."""

import sys

from hotline.cli import main

sys.exit(main())
