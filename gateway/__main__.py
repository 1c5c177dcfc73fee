"""``python -m gateway`` is the ``ordergraph`` command."""

import sys

from gateway.cli import main

sys.exit(main())
