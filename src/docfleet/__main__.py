"""``python -m docfleet`` runs the command line."""

import sys

from docfleet.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
