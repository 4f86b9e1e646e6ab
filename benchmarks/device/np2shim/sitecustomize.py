# Device-only shim: RecBole 1.2.1's Config.compatibility_settings reads numpy 1 aliases that numpy 2 removed.
import numpy as np

for _old, _new in (("float_", "float64"), ("complex_", "complex128"), ("unicode_", "str_")):
    if not hasattr(np, _old):
        setattr(np, _old, getattr(np, _new))
