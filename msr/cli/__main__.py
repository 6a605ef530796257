"""``python -m msr.cli`` (and ``torchrun ... -m msr.cli``): the ``msr`` command."""
import sys

from msr.cli import main

sys.exit(main())
