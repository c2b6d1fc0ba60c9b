"""The benchmarks' sibling modules, imported by path.

By name, ``datasets`` could be another installed package (Hugging Face's); by path it
is always the file beside this one.
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sibling(name):
    """The module ``benchmarks/<name>.py``, loaded once per process."""
    key = f"skssl_benchmark_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
