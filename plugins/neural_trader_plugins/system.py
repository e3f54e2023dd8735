"""``system.*`` operations: prove the pipe end to end and describe the running host."""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import platform
import sys

import attrs

from neural_trader import __version__
from neural_trader.hookspecs import hookimpl
from neural_trader.ops import Context, Operation
from neural_trader.schema import param


@attrs.frozen(kw_only=True)
class PingParams:
    """Parameters of ``system.ping``."""

    echo: str = param(default="", max_len=1000, description="text to send back unchanged")


@attrs.frozen(kw_only=True)
class PingResult:
    """The answer of ``system.ping``."""

    pong: bool = param(description="always true: the host answered")
    echo: str = param(description="the text that was sent")
    version: str = param(description="neural-trader version")


async def ping(params: PingParams, ctx: Context) -> PingResult:
    return PingResult(pong=True, echo=params.echo, version=__version__)


@attrs.frozen(kw_only=True)
class InfoParams:
    """Parameters of ``system.info`` (none)."""


@attrs.frozen(kw_only=True)
class PluginSummary:
    name: str
    status: str = param(description="loaded, failed, unavailable or blocked")
    version: str | None = None
    reason: str | None = None


@attrs.frozen(kw_only=True)
class KernelSummary:
    name: str
    plugin: str
    compiled: bool = param(description="true when the C kernel runs; false when its numpy twin does")
    status: str = param(description="'compiled' or 'fallback: <reason>'")


@attrs.frozen(kw_only=True)
class AcceleratorInfo:
    torch: str | None = param(description="installed torch version, or null")
    cuda_available: bool
    cuda_devices: list[str] = param(factory=list)
    onnxruntime: str | None = param(default=None, description="installed onnxruntime version, or null")
    onnx_providers: list[str] = param(factory=list)


@attrs.frozen(kw_only=True)
class InfoResult:
    """What is running: versions, plugins, kernels, accelerators, storage backends."""

    version: str
    python: str
    platform: str
    plugins: list[PluginSummary]
    operations: int = param(description="number of registered operations")
    native_kernels: list[KernelSummary]
    accelerators: AcceleratorInfo
    database_backend: str
    cache_backend: str


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def _accelerators() -> AcceleratorInfo:
    torch_version = _dist_version("torch")
    cuda, devices = False, []
    if torch_version and importlib.util.find_spec("torch") is not None:
        import torch  # only here: importing torch costs a second or more

        cuda = bool(torch.cuda.is_available())
        devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    ort_version = _dist_version("onnxruntime") or _dist_version("onnxruntime-gpu")
    providers: list[str] = []
    if ort_version and importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        providers = list(onnxruntime.get_available_providers())
    return AcceleratorInfo(torch=torch_version, cuda_available=cuda, cuda_devices=devices,
                           onnxruntime=ort_version, onnx_providers=providers)


def info(params: InfoParams, ctx: Context) -> InfoResult:
    host = ctx.host
    backends = host.services.describe()
    return InfoResult(
        version=__version__,
        python=sys.version.split()[0],
        platform=platform.platform(terse=True),
        plugins=[PluginSummary(name=i.name, status=i.status, version=i.version, reason=i.reason)
                 for i in sorted(host.plugin_infos.values(), key=lambda i: i.name)],
        operations=len(host.operations),
        native_kernels=[
            KernelSummary(name=k.name, plugin=k.plugin, compiled=k.compiled,
                          status="compiled" if k.compiled else f"fallback: {k.reason}")
            for k in host.kernels
        ],
        accelerators=_accelerators(),
        database_backend=backends["database_backend"],
        cache_backend=backends["cache_backend"],
    )


@hookimpl
def nt_register_operations(register):  # type: ignore[no-untyped-def]
    register(Operation(
        name="system.ping", summary="Check that the host answers; echoes the text it is given.",
        params=PingParams, result=PingResult, handler=ping,
    ))
    register(Operation(
        name="system.info",
        summary="Versions, plugins, native kernel status, GPU/CUDA, database and cache backends.",
        params=InfoParams, result=InfoResult, handler=info,
    ))
