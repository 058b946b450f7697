"""`python -m cataract_cli`: the `cataract` command without the installed entry point."""

import sys

from cataract_cli.main import main

sys.exit(main())
