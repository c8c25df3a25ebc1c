import sys

from salon.cli.dispatch import main

sys.exit(main())
