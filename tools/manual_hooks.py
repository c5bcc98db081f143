"""MkDocs hook (manual/mkdocs.yml `hooks:`): before every build, generate the manual's reference chapters.

The generated pages (keys, troubleshooting, dev/) are not committed (manual/.gitignore): a build without this
hook has no such pages, and `mkdocs build --strict` then fails on the navigation that names them. So the
chapters cannot go stale. See tools/manual_reference.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import manual_reference


def on_pre_build(config: Any) -> None:
    manual_reference.generate(Path(config["docs_dir"]))
