"""The Nu HTML Checker (vnu) over pages the tests fetched: one run for all of them.

vnu comes from the npm package `vnu-jar` (`.ci/run` installs it into node_modules/) and
runs on Java; without either the test that asks is skipped, saying how to install them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

VNU = (
    Path(__file__).resolve().parent.parent
    / "node_modules"
    / "vnu-jar"
    / "build"
    / "dist"
    / "vnu.jar"
)


def assert_valid_html(pages: Mapping[str, bytes], folder: Path) -> None:
    """Every page (name to HTML) passes vnu with no error; the errors, by page and line."""
    java = shutil.which("java")
    if java is None or not VNU.exists():
        pytest.skip(
            "the Nu HTML Checker needs java and node_modules/vnu-jar: run "
            "`npm install --no-save axe-core@4 vnu-jar@26` in the repository (.ci/run does)"
        )
    for name, body in pages.items():
        (folder / f"{name}.html").write_bytes(body)
    result = subprocess.run(  # noqa: S603 - a fixed command on files the test wrote
        [java, "-jar", str(VNU), "--errors-only", "--format", "json"]
        + [str(folder / f"{name}.html") for name in pages],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stderr or result.stdout)
    errors = [
        f"{Path(m.get('url', '')).stem} line {m.get('lastLine', '?')}: {m['message']}"
        f"\n    {' '.join((m.get('extract') or '').split())}"
        for m in report["messages"]
        if m.get("type") in ("error", "non-document-error")
    ]
    assert not errors, "Nu HTML Checker errors:\n" + "\n".join(errors)
