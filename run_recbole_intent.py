"""Train and evaluate a recbole-intent model or any RecBole model, like RecBole's own run_recbole.py.

    python run_recbole_intent.py --model=VELI_SASRec --dataset=beauty
    python run_recbole_intent.py --model=SASRec --dataset=beauty --epochs=50 --threads=2
    python run_recbole_intent.py --model=VELI_SASRec --dataset=beauty --nproc=2 --gpu_id=0,1
Any other --key=value is passed on to RecBole's Config (command line wins over YAML). --nproc and the other
distributed flags start RecBole's own distributed training (docs/gpu.md).
"""

import argparse

from recbole_intent.checks import UserError
from recbole_intent.quick_start import run_recbole_intent

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", "-m", type=str, default="VELI_SASRec", help="model name")
    parser.add_argument("--dataset", "-d", type=str, default="beauty", help="dataset name")
    parser.add_argument("--config_files", type=str, default=None, help="space-separated config files")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default 1, from overall.yaml; 0 = one per core)")
    parser.add_argument("--nproc", type=int, default=None, help="processes (ranks) on this machine (default 1)")
    parser.add_argument("--world_size", type=int, default=None, help="ranks on all machines (default: nproc)")
    parser.add_argument("--ip", type=str, default=None, help="address of the machine of rank 0 (default localhost)")
    parser.add_argument("--port", type=int, default=None, help="a free TCP port there (default 5678)")
    parser.add_argument("--group_offset", type=int, default=None, help="rank of this machine's first process")
    args, _ = parser.parse_known_args()  # the rest (--key=value) is read by RecBole's Config from sys.argv
    config_files = args.config_files.strip().split(" ") if args.config_files else None
    settings = {}
    if args.threads is not None:  # also read by RecBole's Config from sys.argv; here for --help and `--threads N`
        settings["threads"] = args.threads
    if args.nproc is not None and args.nproc < 1:
        parser.error(f"--nproc must be at least 1, got {args.nproc}")
    launch = {"nproc": args.nproc, "world_size": args.world_size, "ip": args.ip, "port": args.port,
              "offset": args.group_offset}  # RecBole's own keys (recbole.quick_start.run)
    settings.update({key: value for key, value in launch.items() if value is not None})
    try:
        run_recbole_intent(model=args.model, dataset=args.dataset, config_file_list=config_files, config_dict=settings)
    except UserError as err:  # a mistake in the settings or files (recbole_intent/checks.py): one line, exit 2
        parser.exit(2, f"error: {err}\n")
