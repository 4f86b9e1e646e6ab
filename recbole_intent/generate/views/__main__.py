"""``python -m recbole_intent.generate.views --method llm4sbr|dmsrec ...``: see llm_views.py."""

import sys

from recbole_intent.generate.views.llm_views import main

if __name__ == "__main__":
    sys.exit(main())
