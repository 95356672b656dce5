import sys

from layerc.cli import main

sys.exit(main())
