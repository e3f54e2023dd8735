"""An optional scorer that runs a text classifier the user supplies as an ONNX model
(``NT_SENTIMENT_ONNX_MODEL``: the path of the ``.onnx`` file), on ONNX Runtime's CPU provider.

The model's input is this module's **hashed bag of words**, so any model trained on it (a logistic
regression, a small MLP) plugs in without a tokenizer:

* the words of a text are the runs of ``[a-z0-9]`` after lower-casing (``"Beats!"`` -> ``beats``);
* word ``w`` goes to bucket ``int.from_bytes(blake2b(w.encode("utf-8"), digest_size=8).digest(),
  "little") % D``, where ``D`` is the size of the model's first input's last axis (a fixed number);
* the input is one float32 row of ``D`` counts per text (shape ``(1, D)``), the number of the text's
  words in each bucket.

The model's first output is read as either one value per text (shape ``(1, 1)`` or ``(1,)``): the
score, clipped to -1..1; or three per text (``(1, 3)``): the scores of bearish, neutral and bullish,
turned into probabilities by a softmax unless they already are (non-negative, summing to 1), and the
score is ``p(bullish) - p(bearish)``. ``positive``/``negative``/``neutral`` are those probabilities
(for a one-value model: ``max(score, 0)``, ``max(-score, 0)`` and the rest). Labels as
:func:`~.sentiment.label_for`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neural_trader.errors import NtUserError

from .articles import Article
from .sentiment import SentimentScore, label_for
from .user_file import UserFile

__all__ = ["ENV", "OnnxTextClassifier", "bag_of_words", "bucket"]

ENV = "NT_SENTIMENT_ONNX_MODEL"
#: The largest model file loaded.
MAX_BYTES = 256 * 1024 * 1024
_WORD = re.compile(r"[a-z0-9]+")


def bucket(word: str, size: int) -> int:
    """The bucket of ``word`` among ``size`` (module doc)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little") % size


def bag_of_words(text: str, size: int) -> np.ndarray:
    """The ``(1, size)`` float32 counts of ``text``'s words by bucket (module doc)."""
    row = np.zeros((1, size), dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        row[0, bucket(word, size)] += 1.0
    return row


def _open_model(path: Path) -> tuple[Any, str, int]:
    """An ONNX Runtime session on ``path``, its input's name and its number of buckets."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        raise NtUserError(f"{ENV} is not a model ONNX Runtime can load: {type(exc).__name__}") from None
    first = session.get_inputs()[0]
    size = first.shape[-1] if first.shape else None
    if not isinstance(size, int) or size < 1:
        raise NtUserError(f"the model in {ENV} must take a fixed-size last axis (the number of "
                          f"buckets); its input {first.name!r} has shape {first.shape}")
    return session, first.name, size


class OnnxTextClassifier:
    """Runs the ONNX model ``NT_SENTIMENT_ONNX_MODEL`` names (loaded on first use, again when the
    file changes)."""

    name = "onnx_classifier"
    summary = (f"your ONNX text classifier ({ENV}) over a hashed bag of words: one score in -1..1, or "
               "bearish/neutral/bullish scores")

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._file: UserFile[tuple[Any, str, int]] = UserFile(ENV, environ)

    def status(self) -> tuple[bool, str | None]:
        return self._file.status(unset="an ONNX model over the hashed bag of words (docs/news.md)", missing="")

    def _session(self) -> tuple[Any, str, int]:
        path = self._file.path()
        if path is None or not path.is_file():
            raise NtUserError(f"model onnx_classifier is not configured: {self.status()[1]}")
        if path.stat().st_size > MAX_BYTES:
            raise NtUserError(f"{ENV} names a file over {MAX_BYTES // 2**20} MiB")
        return self._file.load(path, _open_model)

    def score(self, text: str) -> SentimentScore:
        if not isinstance(text, str):
            raise NtUserError(f"text must be a string, not {type(text).__name__}")
        if not text.strip():
            raise NtUserError("text is empty: give a headline or a summary to score")
        session, input_name, size = self._session()
        out = np.asarray(session.run(None, {input_name: bag_of_words(text, size)})[0], dtype=np.float64).reshape(-1)
        if out.size == 1:
            s = float(np.clip(out[0], -1.0, 1.0))
            return SentimentScore(compound=s, positive=max(s, 0.0), negative=max(-s, 0.0), neutral=1.0 - abs(s),
                                  label=label_for(s))
        if out.size != 3 or not np.all(np.isfinite(out)):
            raise NtUserError(f"the model in {ENV} must give one score or three (bearish, neutral, bullish) per "
                              f"text; it gave {out.size} values")
        if np.all(out >= 0) and abs(out.sum() - 1.0) < 1e-6:
            p = out
        else:
            e = np.exp(out - out.max())
            p = e / e.sum()
        s = float(np.clip(p[2] - p[0], -1.0, 1.0))
        return SentimentScore(compound=s, positive=float(p[2]), negative=float(p[0]), neutral=float(p[1]),
                              label=label_for(s))

    def score_article(self, article: Article, *, with_summary: bool = False) -> SentimentScore:
        text = article.title
        if with_summary and article.summary:
            text = f"{text}. {article.summary}"
        return self.score(text)
