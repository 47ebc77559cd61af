"""``python -m int8q.cli``: the ``int8q`` command."""

import sys

from . import main

sys.exit(main())
