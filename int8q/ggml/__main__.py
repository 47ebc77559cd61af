"""``python -m int8q.ggml run SCRIPT.py [ARGS...]``: run a script with
gguf-py's Q8_0 on int8q's kernels (`int8q.ggml.accel.main`)."""

import sys

from .accel import main

sys.exit(main())
