"""Command line: ``python -m benchmarks [--quick] [--markdown | --json] [--only A,B]``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable

from benchmarks import (
    breaker,
    concurrency,
    document,
    imports,
    ingest,
    limiter,
    memory,
    middleware,
    pipeline,
    redis_limiter,
    retry,
    slo_eval,
)
from benchmarks.harness import Config, Section, as_json, peak_rss_mib, render_markdown, render_text


def redis_section(cfg: Config) -> Section:
    """The Redis limiter section, or a note saying why it was skipped."""
    if shutil.which("redis-server") is None:
        section = Section("redis_limiter", redis_limiter.TITLE)
        section.notes.append("skipped: redis-server not installed")
        return section
    return redis_limiter.run(cfg)


SECTIONS: dict[str, Callable[[Config], Section]] = {
    "retry": retry.run,
    "breaker": breaker.run,
    "limiter": limiter.run,
    "redis_limiter": redis_section,
    "pipeline": pipeline.run,
    "middleware": middleware.run,
    "concurrency": concurrency.run,
    "memory": memory.run,
    "imports": imports.run,
    "ingest": ingest.run,
    "slo_eval": slo_eval.run,
}


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, or the platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> list[str]:
    """Lines describing where and when the run happened."""
    return [
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {os.cpu_count()} cores, {cpu_model()}, {platform.system()} {platform.release()}",
        f"python: {platform.python_implementation()} {platform.python_version()}",
        "load average at the end: {:.2f} {:.2f} {:.2f} (1, 5, 15 min)".format(*os.getloadavg()),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections and print them in the chosen format."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="very few iterations (smoke run)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--markdown", action="store_true", help="print Markdown tables")
    out.add_argument("--json", action="store_true", help="print plain data as JSON")
    parser.add_argument(
        "--only", default="", help=f"comma-separated sections among {', '.join(SECTIONS)}"
    )
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    cfg = Config.make(quick=args.quick)
    sections = []
    for key in chosen:
        start = time.perf_counter()
        section = SECTIONS[key](cfg)
        section.seconds = time.perf_counter() - start
        section.peak_rss_mib = peak_rss_mib()
        sections.append(section)
        if not (args.markdown or args.json):
            print(render_text([section], []), flush=True)
    if args.json:
        json.dump({"machine": machine(), "sections": as_json(sections)}, sys.stdout, indent=1)
        print()
    elif args.markdown:
        print(document.HEAD)
        print(document.results_head(machine(), cfg.quick))
        print(render_markdown(sections).rstrip())
    failed = [t for s in sections for t in s.targets if t.passed is False]
    if not (args.markdown or args.json):
        print("\n".join(machine()))
        verdict = f"{len(failed)} target(s) failed" if failed else "all measured targets passed"
        print(f"{verdict}{' (--quick: figures are not meaningful)' if cfg.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
