"""Build hook for the native kernels; all other metadata lives in pyproject.toml.

Every ``native/<family>/_<family>_build.py`` defines an ``ffibuilder``; each becomes the private
extension module ``neural_trader._native_<family>``. A new family needs no edit here.

The kernels are optional: every one has a numpy twin. A family whose C does not build (no C
compiler, a compile or link error) is reported in the build output and skipped, and the install
goes on. The build writes ``neural_trader/_native_build.json`` (module name -> why it was not
built; empty when all were) next to the modules, so the loader can say why the twin runs.
"""

import json
import os
import shutil
import subprocess
from glob import glob

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

#: Read by ``neural_trader.native._loader``; the two must agree on the name.
BUILD_REPORT = "_native_build.json"
PACKAGE = "neural_trader"
#: Set to 1 (CI does) to make a kernel that does not build fail the install.
REQUIRE_ENV = "NT_REQUIRE_COMPILED"
BUILD_ERRORS = (CCompilerError, CompileError, LinkError, ExecError, PlatformError)


class build_optional_ext(build_ext):
    """``build_ext`` that builds each kernel family if it can and records the ones it could not."""

    def run(self):
        required = os.environ.get(REQUIRE_ENV) == "1"
        for ext in self.extensions:
            # setuptools then lets a failure pass and copies only the modules that exist (editable installs)
            ext.optional = not required
        self._not_built = {}
        super().run()
        self._write_report()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except BUILD_ERRORS as exc:
            if not ext.optional:
                raise
            why = self._not_built[ext.name] = self._why(exc)
            fix = ("install one (gcc or clang; MSVC on Windows) and reinstall" if why.startswith("no C compiler")
                   else "the compiler's messages are above; fix them and reinstall")
            bar = "=" * 78
            self.warn(f"\n{bar}\nWARNING: the native kernel {ext.name} was not built: {why}.\n"
                      f"The install goes on, and the numpy twin of this kernel runs instead (same results,\n"
                      f"slower). To get the compiled kernel: {fix}.\n"
                      f"(Set {REQUIRE_ENV}=1 to make this an error.)\n{bar}")

    def _why(self, exc):
        command = getattr(self.compiler, "compiler_so", None)  # Unix compilers only
        if command and shutil.which(command[0]) is None:
            return f"no C compiler at install time ({command[0]!r} not found)"
        cause = exc
        while cause is not None and not isinstance(cause, subprocess.CalledProcessError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:  # the compiler ran and failed; its own messages are above in the log
            return f"its C build failed at install time ({cause.cmd[0]} exited with status {cause.returncode})"
        return f"its C build failed at install time ({exc})"

    def _write_report(self):
        # Beside the modules: in the build tree for a wheel, in the source tree for an editable
        # install. Written on success too, so a rebuild clears an old failure.
        build_py = self.get_finalized_command("build_py")
        target = build_py.get_package_dir(PACKAGE) if self.inplace else os.path.join(self.build_lib, PACKAGE)
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, BUILD_REPORT), "w", encoding="utf-8") as f:
            json.dump(self._not_built, f, indent=1, sort_keys=True)


setup(
    cmdclass={"build_ext": build_optional_ext},
    cffi_modules=[f"{path}:ffibuilder" for path in sorted(glob("native/*/_*_build.py"))],
)
