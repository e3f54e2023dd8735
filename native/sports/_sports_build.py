"""cffi builder for ``neural_trader._native_sports`` (discovered by setup.py)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from _build_common import make_ffibuilder

ffibuilder = make_ffibuilder("sports")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
