"""``python -m int8q``: the same as the ``int8q`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
