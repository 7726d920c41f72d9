"""``python -m structloss`` runs the ``structloss`` command."""

import sys

from structloss.cli import main

sys.exit(main())
