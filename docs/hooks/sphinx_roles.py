"""The docstrings cross-reference in Sphinx's way (``:class:`~bucketry.errors.NotFoundError```),
which Python readers know; the site renders each as the code it names, as a reader of the source
sees it, instead of the raw role."""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:meth|class|func|data|mod|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _shown(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1):  # "~a.b.C" shows as "C", as Sphinx would
        target = target.rsplit(".", 1)[-1]
    return f"<code>{target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_shown, html)
