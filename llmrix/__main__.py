"""``python -m llmrix``: the same as the ``llmrix`` command."""

import sys

from .cli import main

sys.exit(main())
