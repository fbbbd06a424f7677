"""`python -m logship` is the same as the `logship` console script."""

import sys

from logship.app.cli import main

sys.exit(main())
