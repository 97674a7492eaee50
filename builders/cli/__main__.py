"""`python -m zoo.builders.cli`: the `zoo` command."""

import sys

from zoo.builders.cli.main import main

sys.exit(main())
