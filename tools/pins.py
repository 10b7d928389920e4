"""Rewrite the pip section of environment.yml from requirements.txt (the one source of pins)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    env = (ROOT / "environment.yml").read_text()
    head = env.split("  - pip:\n")[0] + "  - pip:\n"
    pins = [m.group(1) for line in (ROOT / "requirements.txt").read_text().splitlines()
            if (m := re.match(r"^([A-Za-z0-9_.\-]+==[^\s#;]+)", line))]
    (ROOT / "environment.yml").write_text(head + "".join(f"      - {p}\n" for p in pins))
    print(f"environment.yml: {len(pins)} pins")
