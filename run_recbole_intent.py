"""Train and evaluate a recbole-intent model or any RecBole model, like RecBole's own run_recbole.py.

    python run_recbole_intent.py --model=VELI_SASRec --dataset=beauty
    python run_recbole_intent.py --model=SASRec --dataset=beauty --epochs=50
Any other --key=value is passed on to RecBole's Config (command line wins over YAML).
"""

import argparse

from recbole_intent.checks import UserError
from recbole_intent.quick_start import run_recbole_intent

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", "-m", type=str, default="VELI_SASRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="beauty", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    args, _ = parser.parse_known_args()  # the rest (--key=value) is read by RecBole's Config from sys.argv
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    try:
        run_recbole_intent(model=args.model, dataset=args.dataset, config_file_list=config_files)
    except UserError as err:  # a mistake in the settings or files (recbole_intent/checks.py): one line, exit 2
        parser.exit(2, f"error: {err}\n")
