"""Pictures an operation can return (equity curves, drawdowns, forecasts, heatmaps).

The convention every frontend follows: a **top-level** field of an operation's result whose type is
:class:`Image` (or ``Image | None``) is a picture. On the JSON wire it is an object
``{"media_type": "image/png", "data": "<base64>"}`` (``bytes`` travel as base64 through
:mod:`neural_trader.serde`); the MCP server additionally returns it as image content, the CLI can
write it to a file, and REST returns it inline. Nested images (inside lists or sub-objects) are
plain data and get no special treatment.
"""

from __future__ import annotations

import attrs

from neural_trader.schema import param

__all__ = ["Image"]


@attrs.frozen(kw_only=True)
class Image:
    """An encoded picture: its MIME type and bytes."""

    media_type: str = param(description="MIME type of the picture, e.g. image/png",
                            pattern=r"^image/[A-Za-z0-9.+-]+$")
    data: bytes = attrs.field(repr=lambda value: f"<{len(value)} bytes>",
                              metadata={"description": "the encoded picture (base64 on the wire)"})

    @classmethod
    def png(cls, data: bytes) -> Image:
        """A PNG picture from its encoded bytes."""
        return cls(media_type="image/png", data=data)
