"""Settings of the generator: properties/generate.yaml, overridden by `--key value` on the CLI.

The result is a plain dict (that is also what ``OfflineBackend(config)`` receives). It never holds the API key,
only the NAME of the environment variable that holds it (``api_key_env``), so it is safe to print and to store in
the run report.
"""

import argparse
import difflib
import logging
import os
import sys
import urllib.parse

import yaml

from recbole_intent.checks import UserError, line_of, read_config_file
from recbole_intent.paths import PROPERTIES

DEFAULTS_FILE = PROPERTIES / "generate.yaml"

CHOICES = {"backend": ("openai", "offline", "batch"), "select": ("uncertainty", "random", "all")}
# Keys whose YAML default is ~ (None): the type a CLI value is parsed as.
_NONE_DEFAULT_TYPES = {"max_calls": int, "base_url": str, "cache_dir": str, "pool_file": str, "batch_dir": str}


def load_defaults(path=DEFAULTS_FILE):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def _parse_bool(text):
    value = yaml.safe_load(text)
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")
    return value


def _none_or(kind):
    def parse(text):
        return None if text.strip().lower() in ("~", "none", "null", "") else kind(text)

    return parse


def build_parser(defaults):
    parser = argparse.ArgumentParser(
        prog="python -m recbole_intent.generate",
        description="Stage 1: LLM intent generation with the predict-and-correct loop (VELI4SBR §4.1, SPRINT §4.1).",
    )
    parser.add_argument("--config_files", nargs="*", default=[], help="extra YAML files layered over the defaults")
    for key, default in defaults.items():
        if key in ("dry_run", "refine"):
            continue
        if isinstance(default, bool):
            kind = _parse_bool
        elif default is None:
            kind = _none_or(_NONE_DEFAULT_TYPES.get(key, str))
        else:
            kind = type(default)
        parser.add_argument(f"--{key}", type=kind, default=None, choices=CHOICES.get(key), help=f"default: {default}")
    parser.add_argument("--dry_run", action="store_true", default=None, help="print prompts and call counts only")
    parser.add_argument("--refine", dest="refine", action="store_true", default=None, help="item refinement P1 (on)")
    parser.add_argument("--no_refine", dest="refine", action="store_false", help="use the raw titles")
    return parser


def _kind(key, default):
    """The type a value of ``key`` must have: its YAML default's (a None default: ``_NONE_DEFAULT_TYPES``)."""
    if default is None:
        return _NONE_DEFAULT_TYPES.get(key, str)
    return type(default)


def check_setting(key, value, default, where):
    """``value`` for ``key`` as a --flag would parse it, or a ``UserError`` naming ``where`` (file:line), the key and
    the value: a config file may not hold ``max_tries: [1]`` or ``backend: bogus``."""
    kind = _kind(key, default)
    if value is None and default is None:
        return None
    if kind is str and type(value) in (int, float):
        value = str(value)  # e.g. intent_set: 2024
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not kind:
        raise UserError(f"{where}: {key}: {value!r} is not {kind.__name__} (default: {default!r})")
    if key in CHOICES and value not in CHOICES[key]:
        raise UserError(f"{where}: {key}: {value!r} is not one of {', '.join(CHOICES[key])}")
    return value


def read_config_files(paths, defaults):
    """The ``--config_files`` layered in order, every key known and every value checked (``check_setting``)."""
    cfg = {}
    for path in paths:
        for key, value in read_config_file(path, yaml.SafeLoader).items():
            if key not in defaults:
                close = difflib.get_close_matches(str(key), defaults, n=1, cutoff=0.75)
                raise UserError(f"{line_of(path, key)}: unknown key {key!r}"
                                f"{f' (did you mean {close[0]}?)' if close else ''}; the keys are --flags' names")
            cfg[key] = check_setting(key, value, defaults[key], line_of(path, key))
    return cfg


def _check_url(url):
    """--base_url must be an http(s) URL that parses (the SDK would raise its own InvalidURL, with a traceback, only
    once the selection and its warm-up training are done)."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as err:
        raise UserError(f"--base_url {url!r} is not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--base_url {url!r} is not a valid URL (expected e.g. http://127.0.0.1:8000/v1)")


def resolve(cfg):
    """Fill derived values and check ranges (raises ValueError with a readable message)."""
    cfg = dict(cfg)
    for key, allowed in CHOICES.items():
        if cfg.get(key) not in allowed:
            raise UserError(f"--{key} {cfg.get(key)!r} is not one of {', '.join(allowed)}")
    if cfg.get("base_url"):
        _check_url(cfg["base_url"])
    if not cfg.get("cache_dir"):
        cfg["cache_dir"] = os.path.join(cfg["data_path"], cfg["dataset"], ".generate_cache")
    if cfg.get("backend") == "batch" and not cfg.get("batch_dir"):  # batch.py: where the request/response files go
        cfg["batch_dir"] = os.path.join(cfg["data_path"], cfg["dataset"], "batch")
    for key, low in (("max_tries", 1), ("candidates", 1), ("concurrency", 1), ("pool_sync", 1), ("max_intents", 1)):
        if int(cfg[key]) < low:
            raise ValueError(f"--{key} must be >= {low}, got {cfg[key]}")
    if not 0.0 < float(cfg["ratio"]) <= 1.0:
        raise ValueError(f"--ratio must be in (0, 1], got {cfg['ratio']}")
    if cfg.get("max_calls") is not None and int(cfg["max_calls"]) < 0:
        raise ValueError("--max_calls must be >= 0")
    return cfg


def make_config(argv=None, overrides=None):
    """Defaults < --config_files < CLI flags < ``overrides`` (a dict, used by tests and the benchmark)."""
    cfg = load_defaults()
    args = build_parser(cfg).parse_args([] if argv is None else argv)
    cfg.update(read_config_files(args.config_files, cfg))
    for key, value in vars(args).items():
        if key != "config_files" and value is not None:
            cfg[key] = value
    cfg.update(overrides or {})
    return resolve(cfg)


def run_cli(job):
    """The exit status shared by the generator CLIs: 0 done (or a dry run), 3 stopped early (rerun to resume: see the
    report's ``stop_reason``), 2 bad settings or input. ``job()`` returns the run report. Our progress goes to stderr
    at INFO; everything else (RecBole's config dump, httpx's line per request) at WARNING."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("recbole_intent.generate").setLevel(logging.INFO)
    try:
        report = job()
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the first call (selection) or a second Ctrl-C: every answer is in the cache
        print("stopped: Ctrl-C (rerun the same command to resume)", file=sys.stderr)
        return 3
    return 3 if report.get("status") == "stopped" else 0
