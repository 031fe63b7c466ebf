"""``python -m kit``: the same as the ``kit`` console script."""
import sys

from kit.cli import main

sys.exit(main())
