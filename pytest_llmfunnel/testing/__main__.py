"""``python -m pytest_llmfunnel.testing``: run the loopback judge server (see ``server.main``).

Running it through the package (rather than ``-m pytest_llmfunnel.testing.server``)
imports the server module once, as the package itself does.
"""

from __future__ import annotations

import sys

from pytest_llmfunnel.testing.server import main

if __name__ == "__main__":
    sys.exit(main())
