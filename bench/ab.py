#!/usr/bin/python3
"""A/B: two vmpull binaries side by side on the same images, alternating every repetition, for a
change that must not move performance (a restructuring). Uses bench.py's runner and nginx.

  bench/ab.py --old OLD/vmpull --new NEW/vmpull [--reps 5] [--work bench/work] [--markdown FILE]

Images: those bench/make-images.sh makes (disk.raw.zst, disk.raw.mb.xz, disk.raw.gz, disk.raw), the
ones missing are skipped. Sections: local files, and http from nginx on loopback, unlimited and at
50 MB/s. Each row: the new median against the old, and whether it is within max(3%, the measured
spread of either) of it.
"""
import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402

IMAGES = ["disk.raw.zst", "disk.raw.mb.xz", "disk.raw.gz", "disk.raw"]


def pull(b, label, binary, source, out, check):
    cache = b.out / f"cache-{label.replace(' ', '-')}"
    c = bench.Command(label, argv=[binary, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), str(source)],
                      output=out, check=check, cleanup=[cache])
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--sections", default="local,http,http50")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    b = bench.Bench(argparse.Namespace(work=args.work, vmpull=args.new, reps=args.reps))
    b.out.mkdir(parents=True, exist_ok=True)
    raw = b.work / "disk.raw"
    rows = []
    try:
        ports = b.start_nginx() if {"http", "http50"} & set(args.sections.split(",")) else {}
        for section in args.sections.split(","):
            for image in IMAGES:
                path = b.work / image
                if not path.exists():
                    continue
                if section == "local":
                    source = path
                elif section == "http":
                    source = f"http://127.0.0.1:{ports['unlimited']}/{image}"
                else:
                    source = f"http://127.0.0.1:{ports['50m']}/{image}"
                cmds = [pull(b, "old", args.old, source, b.out / "old.out", raw),
                        pull(b, "new", args.new, source, b.out / "new.out", raw)]
                res = b.run_case(f"{section} {image}", cmds, inputs=[path])
                old, new = res["old"].walls, res["new"].walls
                mo, mn = statistics.median(old), statistics.median(new)
                spread = max((max(w) - min(w)) / statistics.median(w) for w in (old, new))
                allowed = max(0.03, spread)
                rows.append((section, image, mo, mn, mn / mo, allowed, abs(mn / mo - 1) <= allowed))
    finally:
        b.stop_servers()
    lines = ["| Section | Image | old median | new median | new/old | allowed | within |", "|---|---|---|---|---|---|---|"]
    for section, image, mo, mn, ratio, allowed, ok in rows:
        lines.append(f"| {section} | {image} | {mo:.2f} s | {mn:.2f} s | {ratio:.3f} | +-{allowed * 100:.0f}% | "
                     f"{'yes' if ok else '**no**'} |")
    text = f"A/B, median of {args.reps}, alternating\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
