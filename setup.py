"""Build hook for the native kernels; all other metadata lives in pyproject.toml.

Every ``native/<family>/_<family>_build.py`` defines an ``ffibuilder``; each becomes the private
extension module ``neural_trader._native_<family>``. A new family needs no edit here.
"""

from glob import glob

from setuptools import setup

setup(cffi_modules=[f"{path}:ffibuilder" for path in sorted(glob("native/*/_*_build.py"))])
