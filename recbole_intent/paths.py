"""Where recbole-intent's YAML files are, without importing RecBole: ``properties/`` at the repository's top level (a
checkout or an editable install), or ``recbole_intent/properties/`` inside an installed wheel (setup.py maps the one
onto the other, so the wheel carries the files)."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PROPERTIES = next((p for p in (_PACKAGE / "properties", _PACKAGE.parent / "properties") if p.is_dir()),
                  _PACKAGE.parent / "properties")
