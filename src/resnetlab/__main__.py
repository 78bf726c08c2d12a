"""``python -m resnetlab`` (and ``torchrun -m resnetlab``) runs the CLI."""

import sys

from resnetlab.cli import main

sys.exit(main())
