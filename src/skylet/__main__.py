"""``python -m skylet`` is the ``skylet`` command."""

import sys

from ._tools._cli import main

sys.exit(main())
