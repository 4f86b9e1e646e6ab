"""The one exception type for the user's mistakes, at the bottom of the import order (data/ raises it for bad files,
checks.py for bad settings; nothing here imports the rest of the package)."""


class UserError(ValueError):
    """A mistake in the user's settings or files. The run scripts print it as one line ``error: ...`` (exit 2)."""
