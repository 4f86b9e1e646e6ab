import sys

from recbole_intent.explain.cli import main

sys.exit(main())
