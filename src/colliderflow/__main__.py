"""``python -m colliderflow``: the command line (the same as the ``colliderflow`` command)."""

import sys

from colliderflow.cli import main

sys.exit(main())
