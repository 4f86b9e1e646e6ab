"""RecBole's hyper-parameter tuner on recbole-intent models (same flags as RecBole's run_hyper.py).

    python -m recbole_intent.run_hyper --model=VELI_SASRec --dataset=beauty --params_file=hyper.test \
        --algo=random --max_evals=10 --output_file=results/hyper_VELI_SASRec.result

``params_file`` uses RecBole's format, one parameter a line, e.g. ``lambda_intent choice [1e-4,1e-3,1e-2]``.
Selection is on the validation split (``valid_metric``); the test result of each trial is only reported.
"""

import argparse
import os

from recbole.trainer import HyperTuning

from recbole_intent.checks import UserError, check_params_file
from recbole_intent.compat import quiet_recbole
from recbole_intent.quick_start import objective_function


def tune(model, dataset, params_file, config_files=None, algo="exhaustive", max_evals=100, output_file=None,
         config_dict=None):
    fixed = dict(config_dict or {}, model=model, dataset=dataset)
    check_params_file(params_file)  # every value of the search space, before the first trial trains

    def objective(params, config_file_list):
        return objective_function(dict(fixed, **params), config_file_list, saved=True)

    quiet_recbole()  # HyperTuning imports hyperopt, which warns about pkg_resources (compat fix 4)
    hp = HyperTuning(objective, params_file=params_file, fixed_config_file_list=config_files, algo=algo,
                     max_evals=max_evals)
    hp.run()
    if output_file:
        os.makedirs(os.path.dirname(output_file) or ".", exist_ok=True)
        hp.export_result(output_file=output_file)
    print("best params:", hp.best_params)
    print("best result:", hp.params2result[hp.params2str(hp.best_params)])
    return hp


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=str, default="VELI_SASRec")
    parser.add_argument("--dataset", type=str, default="beauty")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated fixed config files")
    parser.add_argument("--params_file", type=str, required=True, help="RecBole hyper-parameter space file")
    parser.add_argument("--algo", type=str, default="exhaustive", choices=["exhaustive", "random", "bayes"])
    parser.add_argument("--max_evals", type=int, default=100)
    parser.add_argument("--output_file", type=str, default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per trial (default 1, from overall.yaml; 0 = one per core)")
    args, _ = parser.parse_known_args()
    files = args.config_files.strip().split(" ") if args.config_files else None
    fixed = {} if args.threads is None else {"threads": args.threads}
    try:
        tune(args.model, args.dataset, args.params_file, files, args.algo, args.max_evals, args.output_file, fixed)
    except UserError as err:  # a mistake in the settings or files (recbole_intent/checks.py): one line, exit 2
        parser.exit(2, f"error: {err}\n")
