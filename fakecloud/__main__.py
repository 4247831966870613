import sys

from fakecloud.cli.main import main

sys.exit(main())
