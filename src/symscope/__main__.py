"""``python -m symscope``: the same as the ``symscope`` command."""

import sys

from .cli import main

sys.exit(main())
