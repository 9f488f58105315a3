"""`python -m jitc ...` runs the `jitc` command (see jitc/cli.py)."""
import sys

from .cli import main

sys.exit(main())
