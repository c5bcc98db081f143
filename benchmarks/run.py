"""The benchmark suite: one command, a table on stdout and the figures as JSON.

    .venv/bin/python benchmarks/run.py [--quick] [--only shapes,batch,memory,archives,runtime]
                                       [--sizes S,M,L] [--json benchmarks/results.json]

`shapes` (the default first part) is benchmarks/bench_shapes.py: every course shape of benchmarks/shapes.py
at 100, 1,000 and 5,000 units (`--quick`: 100 and 1,000, one run each), our time and a peer's in the same
run with the CPU-time ratio, one table, written to benchmarks/results-shapes.json. The parts `validate`,
`build` and `import` are the earlier single-shape figures (the `markdown` shape), kept for comparison with
older runs. `archives` validates SCORM and OLX packages of 2,000 and 20,000 members in place, beside
`unzip -tq` / `tar tzf` of the same archive. `runtime` runs benchmarks/bench_runtime.py (its own table and JSON, ~6 minutes) after the rest,
so this one command reproduces every figure in docs/performance.md.

Sizes: S = 100, M = 1,000, L = 5,000 units (benchmarks/gen_course.py: Thai text, a practice quiz every
fifth unit, a post-test). Each figure is the best of several runs (one for L) of the real code in this
process; peers (olxcleaner, `tar czf`, `zip -qrX`) run on the same input in the same run. Peak memory is
measured in a child process that reports its own VmHWM (peak RSS of its own memory). Only loopback traffic; bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_shapes  # noqa: E402
import shapes  # noqa: E402
from gen_course import generate  # noqa: E402

SIZES = {"S": 100, "M": 1000, "L": 5000}


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run_cmd(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def extract(archive: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # noqa: S202 (our own archive)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    return dest


_RSS_WRAP = (
    "import re, sys\n"
    "from pathlib import Path\n"
    "from localmooc_packager.build import build_course\n"
    "build_course(Path(sys.argv[1]), Path(sys.argv[2]), [sys.argv[3]])\n"
    "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
)


def peak_rss_mb(course: Path, out: Path, fmt: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_WRAP, str(course), str(out), fmt],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return int(done.stdout.split()[-1]) / 1024


class Bench:
    def __init__(self, work: Path, sizes: list[str], quick: bool) -> None:
        self.work = work
        self.sizes = sizes
        self.quick = quick
        self.results: dict[str, Any] = {}
        self.rows: list[tuple[str, str, str, str]] = []
        self.courses: dict[str, Path] = {}

    def course(self, size: str) -> Path:
        if size not in self.courses:
            self.courses[size] = generate(self.work / f"src-{size}", SIZES[size])
        return self.courses[size]

    def repeat(self, size: str) -> int:
        return 1 if size == "L" or self.quick else 3

    def row(self, what: str, ours: float, peer_name: str = "", peer: float | None = None) -> None:
        ratio = (
            f"{peer / ours:.1f}x faster" if peer and ours <= peer else (f"{ours / peer:.2f}x" if peer else "")
        )
        peer_text = f"{peer_name} {peer:.3f} s" if peer is not None else ""
        self.rows.append((what, f"{ours:.3f} s", peer_text, ratio))

    # ---- validate
    def validate(self) -> None:
        import olxcleaner

        from localmooc_packager.exporters.olx import OlxExporter
        from localmooc_packager.source import check_course, load_course
        from localmooc_packager.validators.olx import validate_olx, xblock_names

        allowed = [*sorted(xblock_names()), "wiki"]
        for size in self.sizes:
            course = self.course(size)
            t = best_of(lambda c=course: check_course(c), self.repeat(size))
            self.results[f"validate_source_{size}"] = t
            self.row(f"validate source {size} ({SIZES[size]} units)", t)
            archive = OlxExporter().export(load_course(course), self.work / f"olx-{size}")
            tree = extract(archive, self.work / f"olx-{size}-x")
            root = next(p for p in tree.iterdir() if p.is_dir())
            ours = best_of(lambda r=root: validate_olx(r), self.repeat(size))
            theirs = best_of(
                lambda r=root: olxcleaner.validate(str(r), steps=8, ignore=[], allowed_xblocks=allowed),
                self.repeat(size),
            )
            self.results[f"validate_olx_{size}"] = {
                "ours": ours,
                "olxcleaner": theirs,
                "speedup": theirs / ours,
            }
            self.row(f"validate OLX {size}", ours, "olxcleaner", theirs)

    # ---- build
    def build(self) -> None:
        from localmooc_packager.build import build_course

        for size in self.sizes:
            course = self.course(size)
            for fmt in ("olx", "scorm12"):
                out = self.work / f"build-{fmt}-{size}"
                built: list[Path] = []

                def once(c: Path = course, o: Path = out, f: str = fmt, into: list[Path] = built) -> None:
                    into[:] = [b.path for b in build_course(c, o, [f])]

                ours = best_of(once, self.repeat(size))
                tree = extract(built[0], self.work / f"x-{fmt}-{size}")
                if fmt == "olx":
                    peer_name = "tar czf"
                    target = self.work / f"peer-{size}.tar.gz"
                    peer = best_of(
                        lambda t=tree, g=target: run_cmd(["tar", "czf", str(g), "."], t), self.repeat(size)
                    )
                else:
                    peer_name = "zip -qrX"
                    target = self.work / f"peer-{size}.zip"

                    def zip_once(t: Path = tree, g: Path = target) -> None:
                        g.unlink(missing_ok=True)
                        run_cmd(["zip", "-qrX", str(g), "."], t)

                    peer = best_of(zip_once, self.repeat(size))
                self.results[f"build_{fmt}_{size}"] = {"ours": ours, peer_name: peer, "ratio": ours / peer}
                self.rows.append(
                    (
                        f"build {fmt} {size} (load + export)",
                        f"{ours:.3f} s",
                        f"{peer_name} {peer:.3f} s",
                        f"{ours / peer:.2f}x the peer",
                    )
                )

    # ---- batch: a province's dozens of courses in one command
    def batch(self) -> None:
        from localmooc_packager.batch import build_courses

        count, units = (6, 100) if self.quick else (20, 100)
        base = self.work / "batch-src"
        if not base.exists():
            first = generate(base / "c00", units)
            for n in range(1, count):
                shutil.copytree(first, base / f"c{n:02d}")
        courses = sorted(base.iterdir())
        figures: dict[str, float] = {}
        for jobs in (1, 2):
            out = self.work / f"batch-out-{jobs}"

            def once(o: Path = out, j: int = jobs) -> None:
                results = list(build_courses(courses, o, ["olx"], jobs=j))
                assert all(r.ok for r in results), [r.error for r in results if not r.ok]

            figures[f"jobs{jobs}"] = best_of(once, 1 if self.quick else 3)
        trees = []
        for course in courses:
            [archive] = (self.work / "batch-out-1" / course.name).iterdir()
            trees.append(extract(archive, self.work / "batch-x" / course.name))

        def tar_all() -> None:
            for tree in trees:
                run_cmd(["tar", "czf", str(tree.parent / f"{tree.name}.tar.gz"), "."], tree)

        peer = best_of(tar_all, 1 if self.quick else 3)
        self.results[f"batch_olx_{count}x{units}"] = {
            **figures,
            "tar czf": peer,
            "ratio": figures["jobs2"] / peer,
        }
        for jobs in (1, 2):
            self.rows.append(
                (
                    f"build olx of {count} courses x {units} units, --jobs {jobs}",
                    f"{figures[f'jobs{jobs}']:.3f} s",
                    f"tar czf x{count} {peer:.3f} s",
                    f"{figures[f'jobs{jobs}'] / peer:.2f}x the peer",
                )
            )

    # ---- memory
    def memory(self) -> None:
        base = self.course("S")
        for mb in (10, 500) if not self.quick else (10, 100):
            course = self.work / f"assets-{mb}"
            if not course.exists():
                shutil.copytree(base, course)
                with (course / "static" / "big.mp4").open("wb") as f:
                    for _ in range(mb):
                        f.write(os.urandom(1 << 20))
            for fmt in ("olx", "scorm12"):
                rss = peak_rss_mb(course, self.work / f"mem-{mb}-{fmt}", fmt)
                self.results[f"peak_rss_{fmt}_{mb}MB"] = rss
                self.rows.append((f"peak RSS build {fmt}, {mb} MB of assets", f"{rss:.0f} MB", "", ""))

    # ---- archives: validating a package in place, 2,000 and 20,000 members
    def archives(self) -> None:
        import big_archives

        from localmooc_packager.validators import validate_path

        valid_olx = ROOT / "tests" / "fixtures" / "olx" / "valid"
        validate_path(ROOT / "tests" / "fixtures" / "scorm" / "valid-scorm12.zip")  # schemas compiled
        makers = {
            "SCORM 1.2 zip": (big_archives.scorm_zip, ["unzip", "-tq"]),
            "OLX tar.gz": (lambda path, n: big_archives.olx_targz(path, valid_olx, n), ["tar", "tzf"]),
        }
        for kind, (make, peer_cmd) in makers.items():
            for members in (2000, 20000):
                archive = self.work / f"big-{members}{'.zip' if 'zip' in kind else '.tar.gz'}"
                make(archive, members)
                ours = best_of(lambda a=archive: validate_path(a), 1 if self.quick else 3)
                peer = best_of(lambda a=archive, c=peer_cmd: run_cmd([*c, str(a)], self.work), 3)
                self.results[f"validate_{kind.split()[0].lower()}_{members}_members"] = {
                    "ours": ours,
                    " ".join(peer_cmd): peer,
                }
                self.row(f"validate {kind} of {members:,} members", ours, " ".join(peer_cmd), peer)

    # ---- import
    def import_(self) -> None:
        from localmooc_packager.exporters.olx import OlxExporter
        from localmooc_packager.importers.olx import import_olx
        from localmooc_packager.source import load_course

        size = self.sizes[-1]
        archive = OlxExporter().export(load_course(self.course(size)), self.work / f"imp-{size}")
        counter = iter(range(100))
        t = best_of(lambda: import_olx(archive, self.work / f"imported-{next(counter)}", check=False), 1)
        self.results[f"import_olx_{size}"] = t
        self.row(f"import OLX {size} (archive -> source)", t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--only", default="shapes,batch,memory,archives,runtime")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json")
    parser.add_argument(
        "--quick", action="store_true", help="shapes at 100 and 1,000 units; one run each, smaller asset test"
    )
    parser.add_argument("--shapes", default=",".join(shapes.SHAPES), help="course shapes for the shapes part")
    parser.add_argument("--shapes-json", type=Path, default=ROOT / "benchmarks" / "results-shapes.json")
    parser.add_argument("--shape-units", help="sizes of the shapes part instead of 100,1000[,5000]: 10,50")
    parser.add_argument("--cache", type=Path, default=shapes.DEFAULT_CACHE, help="where the shapes are kept")
    args = parser.parse_args()
    only = args.only.split(",")
    if "shapes" in only:
        if args.shape_units:
            units = [int(n) for n in args.shape_units.split(",")]
        else:
            units = [100, 1000] if args.quick else [100, 1000, 5000]
        unknown = set(args.shapes.split(",")) - set(shapes.SHAPES)
        if unknown:
            parser.error(f"unknown shape(s) {', '.join(sorted(unknown))}: use {', '.join(shapes.SHAPES)}")
        bench_shapes.run(
            units,
            args.shapes.split(","),
            args.shapes_json,
            args.cache,
            1 if args.quick else 3,
        )
        sys.stdout.flush()
    sizes = [s for s in args.sizes.split(",") if s in SIZES]
    with tempfile.TemporaryDirectory(prefix="lm-bench-") as tmp:
        bench = Bench(Path(tmp), sizes, args.quick)
        parts = {
            "validate": bench.validate,
            "build": bench.build,
            "batch": bench.batch,
            "memory": bench.memory,
            "import": bench.import_,
            "archives": bench.archives,
        }
        for part in only:
            if part in parts:
                parts[part]()
            elif part not in ("runtime", "shapes"):  # runtime runs after the table, in its own process
                parser.error(f"unknown part {part!r}")
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if bench.rows:
        args.json.write_text(
            json.dumps({"meta": meta, "results": bench.results}, indent=2) + "\n", encoding="utf-8"
        )
        width = max(len(r[0]) for r in bench.rows)
        print(f"{meta['date']}, {meta['cores']} cores, Python {meta['python']}")
        print(f"| {'measure'.ljust(width)} | ours | peer | ratio |")
        print(f"|{'-' * (width + 2)}|---|---|---|")
        for what, ours, peer, ratio in bench.rows:
            print(f"| {what.ljust(width)} | {ours} | {peer} | {ratio} |")
    if "runtime" in only:
        runtime = [sys.executable, str(ROOT / "benchmarks" / "bench_runtime.py")]
        if args.quick:
            runtime += ["--seconds", "2", "--sizes", "0,100000", "--sqlite-workers", "1"]
        else:
            runtime += ["--seconds", "10"]  # 4 s runs moved by +-10 % from run to run on this machine
        sys.stdout.flush()
        return subprocess.run(runtime, cwd=ROOT, check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
