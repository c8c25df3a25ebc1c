"""PyInstaller's entry point for the single-file executable: the same ``salon`` command as the console script."""

import sys

from salon.cli.dispatch import main

if __name__ == "__main__":
    sys.exit(main())
