"""Run the bench scripts one after the other and keep each one's output in bench/RESULTS.md.

    python -m bench.run_all                 # every bench present in bench/
    python -m bench.run_all feed auth       # only these
    python -m bench.run_all --list

A bench is a module of bench/ that runs as a script (`if __name__ == "__main__":`), apart from
the helpers. Each one's section of RESULTS.md (heading `## bench.<name>`, with the exact command,
the date and the full output) is replaced when it runs again; other sections stay as they are.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import ROOT, display_python

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
# The usual order: the service benches first, then the offline ones; others follow by name.
ORDER = [
    "fanout",
    "feed",
    "http",
    "auth",
    "wardrobe",
    "avatar_mesh",
    "recommend_cf",
    "recommend_fitb",
]
HELPERS = {"__init__", "common", "run_all", "raw_ws_server", "stock_server", "minimal_server"}
# Installed without their dependencies (a requirements file cannot say --no-deps per line):
# recbole's wheel only carries the MovieLens-100k file bench/recommend_cf.py reads.
NO_DEPS = {"recommend_cf": ["recbole==1.2.1"]}
TIMEOUT = 1800.0
# Between two benches: the 1-minute load average, which each bench checks before measuring,
# still counts the previous bench's processes for a while after they are gone.
PAUSE = 30.0
HEADING = re.compile(r"^## bench\.(\S+)\s*$")
PREAMBLE = """# Bench results

Written by `python -m bench.run_all` (`make bench`); each section is replaced when its bench runs
again. Figures depend on what else the machine was doing: every bench prints the load average
it started with.
"""


def discover() -> list[str]:
    present = sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if p.stem not in HELPERS and 'if __name__ == "__main__":' in p.read_text(errors="ignore")
    )
    return [n for n in ORDER if n in present] + [n for n in present if n not in ORDER]


def ensure_no_deps(requirements: Sequence[str]) -> None:
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        try:
            if importlib.metadata.version(name) == version:
                continue
        except importlib.metadata.PackageNotFoundError:
            pass
        print(f"installing {requirement} without dependencies", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", requirement], check=True
        )


def run_one(name: str, timeout: float) -> tuple[str, int, float]:
    """Run `python -m bench.<name>`, echoing its output; (output, exit status, seconds)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: a timeout ends the bench's children too
    )
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        os.killpg(proc.pid, signal.SIGTERM)

    timer = threading.Timer(timeout, stop)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    finally:
        timer.cancel()
    status = proc.wait()
    if stopped.is_set():
        lines.append(f"\n[run_all: stopped after {timeout:.0f} s]\n")
    return "".join(lines), status, time.monotonic() - started


def section(name: str, output: str, status: int, seconds: float) -> str:
    command = shlex.join([display_python(), "-m", f"bench.{name}"])
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"## bench.{name}\n\n"
        f"- command: `{command}`\n"
        f"- date: {when} (took {seconds:.0f} s, exit status {status})\n\n"
        f"````text\n{output.rstrip()}\n````\n"
    )


def write_section(name: str, text: str) -> None:
    """Replace bench.<name>'s section of RESULTS.md, or append it."""
    preamble, sections = PREAMBLE, {}
    if RESULTS.exists():
        current: str | None = None
        chunks: dict[str | None, list[str]] = {None: []}
        for line in RESULTS.read_text().splitlines(keepends=True):
            m = HEADING.match(line)
            if m:
                current = m.group(1)
                chunks[current] = []
            chunks[current].append(line)
        preamble = "".join(chunks.pop(None)) or PREAMBLE
        sections = {k: "".join(v) for k, v in chunks.items() if k is not None}
    sections[name] = text
    body = "\n".join(s.rstrip() + "\n" for s in sections.values())
    RESULTS.write_text(preamble.rstrip() + "\n\n" + body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benches to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benches and stop")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per bench")
    parser.add_argument("--pause", type=float, default=PAUSE, help="seconds between benches")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        parser.error(f"no such bench: {', '.join(unknown)} (have: {', '.join(available)})")
    failed = []
    for i, name in enumerate(args.names or available):
        if i and args.pause > 0:
            time.sleep(args.pause)
        print(f"\n=== bench.{name} ===", flush=True)
        try:
            ensure_no_deps(NO_DEPS.get(name, []))
            output, status, seconds = run_one(name, args.timeout)
        except (OSError, subprocess.CalledProcessError) as e:
            output, status, seconds = f"could not run: {e}", 1, 0.0
        write_section(name, section(name, output, status, seconds))
        if status:
            failed.append(name)
    print(f"\nresults in {RESULTS.relative_to(ROOT)}", end="")
    print(f"; failed: {', '.join(failed)}" if failed else "", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
