import sys

from ipclab.tooling.cli import main

sys.exit(main())
