import sys

from cataract_cli.main import main

sys.exit(main())
