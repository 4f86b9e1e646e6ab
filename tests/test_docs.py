"""README.md and docs/*.md: every relative link resolves (file and #anchor), every ``python`` block compiles, and
every ``python ...`` command names an entry point that exists and answers ``--help`` with the flags it is given."""

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Entry points that pass any other --key=value on to RecBole's Config: their flags need not be in --help.
RECBOLE_FLAGS = {"run_recbole_intent.py", "recbole_intent.run_hyper"}


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page):
    seen, out = {}, set()
    for line in re.sub(FENCE, "", page.read_text()).splitlines():
        if line.startswith("#"):
            base = slug(line.lstrip("#"))
            out.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return out


def links():
    for page in PAGES:
        for target in LINK.findall(re.sub(FENCE, "", page.read_text())):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def commands():
    """(page, argv) of every ``python ...`` command: fenced lines (with continuations) and inline code spans."""
    for page in PAGES:
        text = page.read_text()
        found = []
        for _lang, block in FENCE.findall(text):
            found += re.sub(r"\\\n\s*", "", block).splitlines()
        found += re.findall(r"`(python [^`]+)`", re.sub(FENCE, "", text))
        for line in found:
            line = line.split(" #")[0].strip()
            if line.startswith("python ") and not line.startswith("python - "):
                yield page, shlex.split(line)[1:]


def test_the_pages_exist():
    names = {p.name for p in PAGES}
    assert {"models.md", "generator.md", "batch.md", "views.md", "explain.md", "results.md", "install.md"} <= names


@pytest.mark.parametrize(("page", "target"), list(links()), ids=lambda x: str(x).replace(str(ROOT), "")[-60:])
def test_relative_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.exists(), f"{page.name}: link {target} -> {resolved} does not exist"
    if anchor:
        assert resolved.suffix == ".md", f"{page.name}: #anchor into a non-markdown file: {target}"
        assert anchor in anchors(resolved), f"{page.name}: no heading for #{anchor} in {resolved.name}"


def test_python_blocks_compile():
    for page in PAGES:
        for lang, block in FENCE.findall(page.read_text()):
            if lang == "python":
                ast.parse(block)
        for heredoc in re.findall(r"^python - .*?<<'EOF'\n(.*?)^EOF$", page.read_text(), re.S | re.M):
            ast.parse(heredoc)


def _entry_points():
    """Every entry point named by a command, with the flags the pages give it."""
    points = {}
    for page, argv in commands():
        if argv[0] == "-m":
            name, args = argv[1], argv[2:]
        else:
            name, args = argv[0], argv[1:]
            assert (ROOT / name).is_file(), f"{page.name}: python {name}: no such script"
        if name == "pytest":
            continue
        sub = args[0] if name == "recbole_intent.plot" and args else None  # the figure kind is a sub-command
        flags = {a.strip("[]").split("=")[0] for a in args if a.strip("[]").startswith("--")}
        points.setdefault((name, sub), set()).update(flags)
    return points


HELP = """
import contextlib, io, json, runpy, sys
answers = {}
for name, sub in json.loads(sys.argv[1]):
    out, code = io.StringIO(), 0
    sys.argv = [name] + ([sub] if sub else []) + ["--help"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            run = runpy.run_path if name.endswith(".py") else runpy.run_module
            run(name, run_name="__main__")
        except SystemExit as stop:
            code = stop.code or 0
        except Exception as err:  # reported by the test with the entry point's name
            code = repr(err)
    answers[f"{name} {sub or ''}"] = [code, out.getvalue()]
print(json.dumps(answers))
"""


def test_every_command_has_an_entry_point_whose_help_knows_its_flags():
    points = _entry_points()
    assert ("run_recbole_intent.py", None) in points and ("recbole_intent.generate", None) in points
    # one interpreter for all of them: RecBole and torch are imported once (a few seconds, not one per command)
    done = subprocess.run([sys.executable, "-c", HELP, json.dumps(sorted(points))], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    for (name, sub), flags in sorted(points.items(), key=str):
        code, text = answers[f"{name} {sub or ''}"]
        assert code == 0 and "usage" in text.lower(), f"python {name} {sub or ''} --help: {code}\n{text[-2000:]}"
        if name not in RECBOLE_FLAGS:
            unknown = {f for f in flags if not re.search(rf"{re.escape(f)}\b", text)}
            assert not unknown, f"python {name} {sub or ''}: flags not in its --help: {sorted(unknown)}"
