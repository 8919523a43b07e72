"""`python -m displays.cli`: the `stopcast` command."""

import sys

from displays.cli.cli import main

if __name__ == "__main__":
    sys.exit(main())
