"""Entry point: ``python -m ml COMMAND ...`` (see :mod:`ml.cli`)."""
import sys

from ml.cli import main

if __name__ == "__main__":
    sys.exit(main())
