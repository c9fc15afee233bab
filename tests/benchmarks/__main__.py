"""`make bench`: runs every benchmark script in turn and prints one summary at the end.

Each `bench_*.py` is a standalone script printing readable text and, as its last line, one JSON
object of figures; a failing script is reported and the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem in wanted)
    summary: dict[str, object] = {}
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(script)], cwd=HERE.parent.parent, capture_output=True, text=True
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr[-4000:] if result.returncode else "")
        lines = [line for line in result.stdout.strip().splitlines() if line.startswith("{")]
        figures = json.loads(lines[-1]) if lines else {}
        summary[script.stem] = {
            "ok": result.returncode == 0,
            "seconds": round(time.monotonic() - started, 1),
            **figures,
        }
        if result.returncode:
            failed.append(script.stem)
    print("\n=== summary ===")
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
