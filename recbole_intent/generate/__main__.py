"""``python -m recbole_intent.generate --dataset beauty --backend openai --select uncertainty ...``

Exit status: 0 complete (or dry run), 3 stopped early (--max_calls reached, the backend rejected the
credentials / model, or ``--backend batch`` waits for a responses file: see ``stop_reason`` in the report; rerun to
resume), 2 bad settings or missing input files. ``--backend batch --batch_dir DIR``: docs/batch.md, batch.py.
``--method llm4sbr|dmsrec`` generates the per-row LLM views of LLM4SBR / LLM-DMsRec instead (views.py).
"""

import sys

from recbole_intent.generate.common.settings import make_config, run_cli
from recbole_intent.generate.pnc.runner import run


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if any(a == "--method" or a.startswith("--method=") for a in argv):  # LLM4SBR / LLM-DMsRec views (views.py)
        from recbole_intent.generate.views import llm_views as views

        return views.main(argv)
    return run_cli(lambda: run(make_config(argv), argv))


if __name__ == "__main__":
    sys.exit(main())
