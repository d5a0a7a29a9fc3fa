"""Put generated tables between their markers in the docs that show them:

- docs/comparison_table.md (tools/compare_table.py) between `<!-- comparison table -->` and
  `<!-- /comparison table -->` of docs/paper.md and docs/comparators.md;
- docs/latency_variants.md (tools/latency_study.py) between `<!-- latency variants -->` and
  `<!-- /latency variants -->` of docs/speed.md.

    python tools/insert_table.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# generated table -> (marker name, files that show it)
TABLES = {"docs/comparison_table.md": ("comparison table", ("docs/paper.md", "docs/comparators.md")),
          "docs/latency_variants.md": ("latency variants", ("docs/speed.md",))}


def main() -> int:
    for source, (marker, targets) in TABLES.items():
        start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
        table = (ROOT / source).read_text()
        for name in targets:
            path = ROOT / name
            text = path.read_text()
            if start not in text or end not in text:
                print(f"{path}: no {start} ... {end} markers", file=sys.stderr)
                return 2
            text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: f"{start}\n{table}{end}", text,
                          flags=re.S)
            path.write_text(text)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
