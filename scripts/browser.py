"""`make browser`: a Chromium for tests/test_page.py, found or installed the usual ways.

Already there (Debian's chromium, Chrome, or Playwright's download): nothing to do. Else Debian's
chromium with apt when running as root, else Playwright's own `playwright install chromium`. If
neither works it says what is missing and exits 0: `make test` still runs every other test, and
the browser test fails with the same message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness import MISSING_CHROMIUM, find_chromium


def install() -> None:
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("browser test: installing Debian's chromium with apt", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False)
    else:
        print("browser test: no apt as root; `playwright install chromium`", flush=True)
        subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=False)


def main() -> int:
    found = find_chromium()
    if found is None:
        install()
        found = find_chromium()
    if found is None:
        print(f"browser test: {MISSING_CHROMIUM}", file=sys.stderr)
    else:
        print(f"browser test: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
