"""Neural Trader: a plugin host whose typed operations become a CLI, an MCP server and a REST API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neural-trader")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
