"""``python -m recbole_intent.generate.import_answers ...``: the kept command of pnc/import_answers.py."""

import sys

from recbole_intent.generate.pnc.import_answers import main

if __name__ == "__main__":
    sys.exit(main())
