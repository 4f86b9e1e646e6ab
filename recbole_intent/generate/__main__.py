"""``python -m recbole_intent.generate --dataset beauty --backend openai --select uncertainty ...``

Exit status: 0 complete (or dry run), 3 stopped early (--max_calls reached, the backend rejected the
credentials / model, or ``--backend batch`` waits for a responses file: see ``stop_reason`` in the report; rerun to
resume), 2 bad settings or missing input files. ``--backend batch --batch_dir DIR``: docs/batch.md, batch.py.
``--method llm4sbr|dmsrec`` generates the per-row LLM views of LLM4SBR / LLM-DMsRec instead (views.py).
"""

import logging
import sys
import warnings

from recbole_intent.generate.runner import run
from recbole_intent.generate.settings import make_config


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if any(a == "--method" or a.startswith("--method=") for a in argv):  # LLM4SBR / LLM-DMsRec views (views.py)
        from recbole_intent.generate import views

        return views.main(argv)
    # Our progress at INFO on stderr; everything else (RecBole's config dump, httpx's line per request) at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("recbole_intent.generate").setLevel(logging.INFO)
    warnings.filterwarnings("ignore", category=FutureWarning)  # RecBole 1.2.1 on pandas 2.x, torch 2.x
    try:
        cfg = make_config(argv)
        result = run(cfg, argv)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 3 if result.get("status") == "stopped" else 0


if __name__ == "__main__":
    sys.exit(main())
