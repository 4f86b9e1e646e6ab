"""The wheel carries everything a run needs (issue 14): properties/ sits at the repository's top level and ships as
``recbole_intent.properties``. Built here offline, installed non-editable into a temporary venv that sees the
already-installed dependencies, and run from outside the repository on a tiny dataset."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("recbole_intent", "properties", "setup.py", "setup.cfg", "pyproject.toml", "README.md")
RUN = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[2])  # tiny_data.py only: recbole_intent itself must come from the wheel
    from tiny_data import write_tiny_dataset

    import recbole_intent
    from recbole_intent.config import Config
    from recbole_intent.paths import PROPERTIES
    from recbole_intent.quick_start import objective_function

    cfg, _ = write_tiny_dataset(sys.argv[1])
    config = Config(model="VELI_SASRec", dataset="tiny", config_dict=cfg)
    result = objective_function(dict(cfg, checkpoint_dir=sys.argv[1] + "/saved"), model="VELI_SASRec", dataset="tiny")
    print(json.dumps({"package": recbole_intent.__file__, "properties": str(PROPERTIES),
                      "intent_pool_suffix": config["intent_pool_suffix"], "lambda_intent": config["lambda_intent"],
                      "epochs": result["epochs"], "ndcg@20": result["test_result"]["ndcg@20"]}))
""")


def run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built (offline: --no-build-isolation) from a copy of the sources, so the checkout stays clean."""
    pytest.importorskip("wheel", reason="building the wheel offline needs the 'wheel' package (pip install -e .[test])")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        copy = shutil.copytree if os.path.isdir(os.path.join(REPO, name)) else shutil.copy
        copy(os.path.join(REPO, name), src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                       if copy is shutil.copytree else {}))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)])
    (built,) = out.glob("recbole_intent-*.whl")
    return built


def test_wheel_ships_the_properties_and_runs_outside_the_repository(wheel, tmp_path):
    venv, work = tmp_path / "venv", tmp_path / "work"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", site, str(wheel)])
    # The dependencies come from this interpreter's site-packages, added as a plain path: its .pth files (the
    # editable install's finder among them) are not processed, so recbole_intent can only come from the wheel.
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    work.mkdir()
    (work / "run.py").write_text(RUN)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = run([str(python), "run.py", str(work / "data"), os.path.join(REPO, "tests")], cwd=work, env=env)
    got = json.loads(out.strip().splitlines()[-1])
    assert got["package"].startswith(site) and got["properties"] == os.path.join(site, "recbole_intent", "properties")
    # Keys only our properties/intent.yaml sets (RecBole's Config gives None for an unknown key), as shipped.
    with open(os.path.join(REPO, "properties", "intent.yaml"), encoding="utf-8") as f:
        ours = yaml.safe_load(f)
    assert (got["intent_pool_suffix"], got["lambda_intent"]) == (ours["intent_pool_suffix"], ours["lambda_intent"])
    assert got["epochs"] == 1
    assert 0.0 <= got["ndcg@20"] <= 1.0
