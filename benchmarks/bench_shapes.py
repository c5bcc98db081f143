"""Every course shape of benchmarks/shapes.py at every size: our time next to a peer's, measured in one run.

    .venv/bin/python benchmarks/bench_shapes.py [--units 100,1000,5000] [--shapes markdown,...] [--quick]
                                               [--json benchmarks/results-shapes.json]

`benchmarks/run.py` runs it as its `shapes` part. For every shape and size:

- build olx vs `tar czf` of its own output (extracted); build scorm12 / scorm2004 vs `zip -qrX` of theirs;
- validate source (what `localmooc validate` does: read, schema, checks, block tree) vs reading and parsing
  the same files in the same process: every YAML file with PyYAML's C loader, every Markdown text (html
  bodies, prompts, explanations) with cmark-gfm, every HTML file with lxml;
- validate OLX of the shape's OLX export vs olxcleaner `validate(steps=8)`;
- import (`import_olx`, without its closing check, which is the validate-source row) of the shape's OLX
  export - for the `imported` shape, of its Studio archive - vs `tar xzf` of the same archive;
- peak RSS (ru_maxrss) of the child process that ran each of our operations.

Each of our operations runs in a fresh child process (so its ru_maxrss is its own) that times only the
operation, after its imports: wall time (perf_counter) and CPU time (process_time: every thread of the
process). Peers run as child processes too, timed by wall clock and by their rusage from wait4 (tar's
includes the gzip it runs). **Ratios are CPU-time ratios** (the wall-clock ratio is printed beside them):
other tenants of the machine stretch wall time, not CPU time. Figures are the best of 3 runs (1 at 5,000
units).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import shapes  # noqa: E402

# (measure, peer, target ratio, "le": ours/peer at most the target; "ge": peer/ours at least the target)
TARGETS = {
    "build olx": ("tar czf", 2.0, "le"),
    "build scorm12": ("zip -qrX", 2.0, "le"),
    "build scorm2004": ("zip -qrX", 2.0, "le"),
    "validate source": ("read+parse", 1.5, "le"),
    "validate olx": ("olxcleaner", 3.0, "ge"),
    "import": ("tar xzf", 3.0, "le"),
}


# ---------------------------------------------------------------------------------------------------------
# In the child process


def _timed(fn: Callable[[int], Any], repeat: int) -> dict[str, float]:
    walls, cpus = [], []
    for n in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn(n)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall": min(walls), "cpu": min(cpus)}


def _markdown_texts(data: Any, out: list[str]) -> None:
    """The Markdown strings `localmooc validate` renders: html bodies (not format: html), prompts, explains."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if (
                value.get("type") == "html"
                and isinstance(value.get("body"), str)
                and value.get("format") != "html"
            ):
                out.append(value["body"])
            for key in ("prompt", "explain"):
                if isinstance(value.get(key), str):
                    out.append(value[key])
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def read_and_parse(course: Path) -> int:
    """The floor of validating a source: read every file of the course and parse it (YAML, Markdown, HTML)."""
    import cmarkgfm
    import lxml.html
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed = 0
    for folder, _dirs, files in os.walk(course):
        for name in files:
            path = os.path.join(folder, name)
            suffix = os.path.splitext(name)[1].lower()
            if suffix in (".yaml", ".yml"):
                with open(path, encoding="utf-8") as f:
                    data = yaml.load(f.read(), Loader=loader)  # noqa: S506 (the C safe loader)
                texts: list[str] = []
                _markdown_texts(data, texts)
                for text in texts:
                    cmarkgfm.github_flavored_markdown_to_html(text)
            elif suffix in (".md", ".markdown"):
                with open(path, encoding="utf-8") as f:
                    cmarkgfm.github_flavored_markdown_to_html(f.read())
            elif suffix in (".html", ".htm"):
                with open(path, encoding="utf-8") as f:
                    lxml.html.fragment_fromstring(f.read(), create_parent="div")
            else:
                continue
            parsed += 1
    return parsed


def child(op: str, args: list[str], repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if op == "build":
        from localmooc_packager.build import build_course

        fmt, src, dest = args
        made: list[str] = []

        def build(n: int) -> None:
            target = Path(dest) / str(n)
            made[:] = [str(b.path) for b in build_course(Path(src), target, [fmt])]

        out["ours"] = _timed(build, repeat)
        out["package"] = made[0]
    elif op == "validate-source":
        from localmooc_packager.source import check_course

        (src,) = args
        problems: list[int] = []

        def validate(_n: int) -> None:
            problems[:] = [len(check_course(Path(src))[1].errors)]

        out["peer"] = _timed(lambda _n: read_and_parse(Path(src)), repeat)
        out["ours"] = _timed(validate, repeat)
        out["errors"] = problems[0]
    elif op == "validate-olx":
        import olxcleaner

        from localmooc_packager.validators.olx import validate_olx, xblock_names

        (root,) = args
        allowed = [*sorted(xblock_names()), "wiki"]
        out["ours"] = _timed(lambda _n: validate_olx(Path(root)), repeat)
        out["errors"] = len(validate_olx(Path(root)).errors)
        out["peer"] = _timed(
            lambda _n: olxcleaner.validate(root, steps=8, ignore=[], allowed_xblocks=allowed), repeat
        )
    elif op == "import":
        from localmooc_packager.importers.olx import import_olx

        archive, dest = args
        out["ours"] = _timed(lambda n: import_olx(Path(archive), Path(dest) / str(n), check=False), repeat)
    else:
        raise SystemExit(f"unknown child operation {op!r}")
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# ---------------------------------------------------------------------------------------------------------
# In the parent


def run_child(op: str, args: list[str], repeat: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", op, "--repeat", str(repeat), "--", *args],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{op} {args}: exit {done.returncode}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_peer(
    argv: list[str], cwd: Path, repeat: int, before: Callable[[], None] | None = None
) -> dict[str, float]:
    """Best wall and CPU time (its rusage, children included) of a command."""
    walls, cpus = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        w0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - w0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv}: exit {proc.returncode}")
        cpus.append(usage.ru_utime + usage.ru_stime)
    return {"wall": min(walls), "cpu": min(cpus)}


def extract(archive: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)  # noqa: S202 (our own package)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    return dest


def _clear(folder: Path) -> Callable[[], None]:
    def clear() -> None:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    return clear


class ShapeBench:
    def __init__(self, work: Path, cache: Path, repeat_small: int = 3) -> None:
        self.work = work
        self.cache = cache
        self.repeat_small = repeat_small
        self.rows: list[dict[str, Any]] = []

    def repeat(self, units: int) -> int:
        return 1 if units >= 5000 else self.repeat_small

    def add(self, shape: str, units: int, measure: str, ours: dict[str, float], peer: dict[str, float],
            rss: float | None = None, **extra: Any) -> None:  # fmt: skip
        peer_name, target, sense = TARGETS[measure]
        if sense == "le":
            ratio_cpu, ratio_wall = ours["cpu"] / peer["cpu"], ours["wall"] / peer["wall"]
            met = ratio_cpu <= target
        else:
            ratio_cpu, ratio_wall = peer["cpu"] / ours["cpu"], peer["wall"] / ours["wall"]
            met = ratio_cpu >= target
        row = {
            "shape": shape,
            "units": units,
            "measure": measure,
            "ours_cpu": ours["cpu"],
            "ours_wall": ours["wall"],
            "peer": peer_name,
            "peer_cpu": peer["cpu"],
            "peer_wall": peer["wall"],
            "ratio_cpu": ratio_cpu,
            "ratio_wall": ratio_wall,
            "target": f"{'<=' if sense == 'le' else '>='} {target:g}",
            "met": met,
            "peak_rss_mb": rss,
            **extra,
        }
        self.rows.append(row)
        print(format_row(row), flush=True)

    def shape(self, shape: str, units: int) -> None:
        src = shapes.course(shape, units, self.cache)
        work = self.work / f"{shape}-{units}"
        work.mkdir(parents=True)
        rep = self.repeat(units)
        olx_archive: Path | None = None
        for fmt in ("olx", "scorm12", "scorm2004"):
            res = run_child("build", [fmt, str(src), str(work / f"build-{fmt}")], rep)
            package = Path(res["package"])
            tree = extract(package, work / f"x-{fmt}")
            if fmt == "olx":
                olx_archive = package
                peer = run_peer(["tar", "czf", str(work / "peer.tar.gz"), "."], tree, rep)
            else:
                target = work / "peer.zip"
                peer = run_peer(
                    ["zip", "-qrX", str(target), "."], tree, rep, lambda t=target: t.unlink(missing_ok=True)
                )
            self.add(shape, units, f"build {fmt}", res["ours"], peer, res["maxrss_mb"])
        res = run_child("validate-source", [str(src)], rep)
        self.add(
            shape, units, "validate source", res["ours"], res["peer"], res["maxrss_mb"], errors=res["errors"]
        )
        assert olx_archive is not None
        olx_tree = work / "x-olx"
        root = next(p for p in olx_tree.iterdir() if p.is_dir())
        res = run_child("validate-olx", [str(root)], rep)
        self.add(shape, units, "validate olx", res["ours"], res["peer"], None, errors=res["errors"])
        archive = shapes.studio_archive(units, self.cache) if shape == "imported" else olx_archive
        res = run_child("import", [str(archive), str(work / "imported")], rep)
        peer = run_peer(["tar", "xzf", str(archive)], work / "untar", rep, _clear(work / "untar"))
        self.add(shape, units, "import", res["ours"], peer, res["maxrss_mb"], archive=archive.name)
        shutil.rmtree(work)  # the 5,000-unit builds are large; keep the disk of a shared machine free


def format_row(row: dict[str, Any]) -> str:
    rss = f"{row['peak_rss_mb']:.0f}" if row["peak_rss_mb"] is not None else ""
    ratio = f"{row['ratio_cpu']:.2f}x" + (" faster" if row["target"].startswith(">=") else "")
    return (
        f"| {row['shape']} | {row['units']:,} | {row['measure']} | {row['ours_cpu']:.3f} / {row['ours_wall']:.3f}"
        f" | {row['peer']} {row['peer_cpu']:.3f} / {row['peer_wall']:.3f} | **{ratio}** ({row['ratio_wall']:.2f}x)"
        f" | {row['target']} {'met' if row['met'] else 'NOT met'} | {rss} |"
    )


HEADER = (
    "| shape | units | measure | ours CPU / wall s | peer CPU / wall s | ratio CPU (wall) | target | peak RSS MB |\n"
    "|---|---|---|---|---|---|---|---|"
)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(
    units: list[int], shape_names: list[str], json_path: Path | None, cache: Path, repeat: int = 3
) -> list[dict[str, Any]]:
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average_start": load_average(),
        "ratio": "CPU time (ours: process_time of the child around the operation; peer: wait4 rusage)",
    }
    print(
        f"{meta['date']}, {meta['cores']} cores, Python {meta['python']}, load average {meta['load_average_start']}"
    )
    print("CPU-time ratios; wall-clock ratio in parentheses")
    print(HEADER, flush=True)
    rows: list[dict[str, Any]] = []

    def save(complete: bool) -> None:
        # Written after every shape, so that a long run stopped half-way keeps what it measured.
        if json_path is not None:
            data = {"meta": {**meta, "complete": complete}, "rows": rows}
            json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="lm-shapes-") as tmp:
        bench = ShapeBench(Path(tmp), cache, repeat)
        rows = bench.rows
        for n in units:
            for shape in shape_names:
                bench.shape(shape, n)
                save(complete=False)
    meta["load_average_end"] = load_average()
    print(f"load average at the end: {meta['load_average_end']}")
    save(complete=True)
    return bench.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="100,1000,5000")
    parser.add_argument("--shapes", default=",".join(shapes.SHAPES))
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 units, one run each")
    parser.add_argument("--cache", type=Path, default=shapes.DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, default=HERE / "results-shapes.json")
    parser.add_argument("--table", type=Path, help="print the table of a results JSON file and stop")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.table:
        print(HEADER)
        for row in json.loads(args.table.read_text(encoding="utf-8"))["rows"]:
            print(format_row(row))
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.rest, args.repeat)))
        return 0
    units = [100, 1000] if args.quick else [int(n) for n in args.units.split(",")]
    names = args.shapes.split(",")
    unknown = set(names) - set(shapes.SHAPES)
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(sorted(unknown))}: use {', '.join(shapes.SHAPES)}")
    run(units, names, args.json, args.cache, 1 if args.quick else 3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
