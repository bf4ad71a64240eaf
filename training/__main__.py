"""`python -m training`: see training.pipeline."""

import sys

from training.pipeline import main

sys.exit(main())
