"""Put the generated comparison table (docs/comparison_table.md) between the markers
`<!-- comparison table -->` and `<!-- /comparison table -->` of the README and docs/comparators.md.

    python tools/insert_table.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- comparison table -->", "<!-- /comparison table -->"


def main() -> int:
    table = (ROOT / "docs" / "comparison_table.md").read_text()
    for name in ("README.md", "docs/comparators.md"):
        path = ROOT / name
        text = path.read_text()
        if START not in text or END not in text:
            print(f"{path}: no {START} ... {END} markers", file=sys.stderr)
            return 2
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: f"{START}\n{table}{END}", text, flags=re.S)
        path.write_text(text)
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
