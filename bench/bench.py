#!/usr/bin/python3
"""vmpull benchmark: vmpull side by side with the peer tools, in one run, on one machine.

    bench/bench.py [--reps N] [--sections local,copy,xzmem,rss,http,balanced,oci,cache,segments] [--vmpull PATH] [--markdown FILE]
                   [--autogroup-nice N] [--no-peer-sync]

Run it through `make bench` (a release build, images made or reused first). On a shared machine,
`make bench BENCH_OPTS=--autogroup-nice=-10` gives every contender alike a larger share of the
CPU (with scheduler autogroups, plain `nice` only ranks processes within one session).

Images come from bench/make-images.sh (cached in bench/work/). Every command of a case runs
once per repetition, the commands of a case interleaved (vmpull, peer, peer, vmpull, ...), so
that load from other processes on the machine hits all of them alike; the table shows medians.

Measurement rules, the same for vmpull and every peer:
  * Inputs are read once before a case (warm page cache) and nothing is dropped from the page
    cache between runs: dropping needs root, disturbs everything else running on the machine,
    and would measure the disk instead of the tools. Every tool reads the same warm input.
  * Every output is a file in bench/work/out/ (the same filesystem as the inputs), removed
    before each run outside the timed region.
  * vmpull fsyncs its output before it links it into place (a pull is durable when it
    returns). So that both sides finish with the data on disk, each peer command is followed
    by `sync FILE` (fsync of that one file) inside the timed region. --no-peer-sync turns
    that off (vmpull then pays for durability and the peers do not).
  * vmpull runs with its defaults (the cache on) but with a fresh, empty --cache-dir for every
    run, so every pull is cold unless a row says otherwise (the cache rows fill it on purpose).
  * Wall time from fork to exit; peak RSS is /usr/bin/time's %M (the largest process of a
    pipeline); allocated bytes are st_blocks * 512 of the output.
  * vmpull's output is compared byte for byte with the original disk (first repetition only,
    outside the timed region): a benchmark of a wrong result is worthless.
"""
import argparse
import hashlib
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1024 * 1024


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port}")


def registry_link(port, registry_port, rate, access_log=None):
    """An nginx server block at port: the registry at registry_port behind a link of rate (nginx
    limit_rate syntax, per connection), pushes of any size passed through unbuffered."""
    log_line = f"\n    access_log {access_log};" if access_log else ""
    return f"""  server {{
    listen 127.0.0.1:{port};{log_line}
    client_max_body_size 0;
    location / {{
      proxy_pass http://127.0.0.1:{registry_port};
      proxy_set_header Host $http_host;
      proxy_http_version 1.1;
      proxy_max_temp_file_size 0;
      limit_rate {rate};
    }}
  }}"""


def warm(path):
    """Read a file once so that it is in the page cache for every tool alike."""
    with open(path, "rb", buffering=0) as f:
        while f.read(16 * MIB):
            pass


def human_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


class Command:
    """One contender in a case: a label, an argv (or a shell line) and its output file."""

    def __init__(self, label, argv=None, shell=None, output=None, cleanup=(), check=None):
        self.label = label
        self.argv = argv
        self.shell = shell
        self.output = output
        self.cleanup = list(cleanup)  # extra files (a downloaded copy, an OCI dir) removed after a run
        self.check = check            # reference file the output must equal (first run)
        self.walls = []
        self.rss_kib = []
        self.allocated = None
        self.size = None

    def describe(self):
        return self.shell if self.shell else shlex.join(self.argv)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work).resolve()
        self.out = self.work / "out"
        self.vmpull = str(Path(args.vmpull).resolve())
        self.reps = args.reps
        self.rows = []       # (section, case, subject, peer, subject_s, peer_s, ratio, target, extra)
        self.blocks = []     # (case, allocated, nonzero_bytes, ratio)
        self.rss = []        # (case, kib, limit_kib or None)
        self.rss_peers = []  # (case, vmpull kib, peer, peer kib, target ratio)
        self.notes = []
        self.servers = []
        self.decode_time = {}  # (image name, peer label) -> median seconds, from the local rows
        self.byte_rows = []    # (case, bytes, file size, target ratio)
        self.spreads = {}      # row index -> (subject spread, peer spread)
        self.kill_sent = []

    # -- running -------------------------------------------------------------------------

    def remove_outputs(self, cmd):
        for p in [cmd.output, *cmd.cleanup]:
            if p is None:
                continue
            p = Path(p)
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()

    def run_once(self, cmd, first):
        self.remove_outputs(cmd)
        with tempfile.NamedTemporaryFile("r", dir=self.out, prefix=".time-") as tf:
            if cmd.shell is not None:
                inner = ["sh", "-c", "set -e; " + cmd.shell]
            else:
                inner = list(cmd.argv)
            full = ["/usr/bin/time", "-f", "%M", "-o", tf.name, *inner]
            t0 = time.monotonic()
            proc = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall = time.monotonic() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{cmd.label}: `{cmd.describe()}` failed ({proc.returncode}): "
                                   f"{proc.stderr.decode(errors='replace').strip()[-2000:]}")
            lines = [l for l in tf.read().splitlines() if l.strip()]
            rss = int(lines[-1])
        cmd.walls.append(wall)
        cmd.rss_kib.append(rss)
        if cmd.output is not None:
            st = os.stat(cmd.output)
            cmd.allocated = st.st_blocks * 512
            cmd.size = st.st_size
            if first and cmd.check is not None:
                r = subprocess.run(["cmp", "-s", str(cmd.output), str(cmd.check)])
                if r.returncode != 0:
                    raise RuntimeError(f"{cmd.label}: output {cmd.output} differs from {cmd.check}")
        self.remove_outputs(cmd)

    def run_case(self, name, commands, inputs=(), rotate=True, before_rep=None):
        log(f"case {name}: {len(commands)} commands x {self.reps} runs")
        for p in inputs:
            warm(p)
        for rep in range(self.reps):
            if before_rep:
                before_rep()
            # Rotate the order every repetition: no tool always runs right after another.
            # (Not for sequences whose steps depend on each other, like filling a cache.)
            k = rep % len(commands) if rotate else 0
            order = commands[k:] + commands[:k]
            for cmd in order:
                self.run_once(cmd, first=(rep == 0))
        for cmd in commands:
            med = statistics.median(cmd.walls)
            spread = (max(cmd.walls) - min(cmd.walls)) / med if med else 0
            log(f"  {cmd.label:28s} median {med:7.2f} s  (min {min(cmd.walls):.2f}, max {max(cmd.walls):.2f}, "
                f"spread {spread * 100:.0f}%)  peak RSS {max(cmd.rss_kib) / 1024:.1f} MiB"
                + (f"  output allocated {human_bytes(cmd.allocated)}" if cmd.allocated is not None else ""))
        return {c.label: c for c in commands}

    def compare(self, section, case, res, subject, peer, target=None):
        s = statistics.median(res[subject].walls)
        p = statistics.median(res[peer].walls)
        self.rows.append((section, case, subject, res[peer].describe_short, s, p, s / p, target,
                          max(res[subject].rss_kib)))
        self.spreads[len(self.rows) - 1] = (self.spread(res[subject].walls), self.spread(res[peer].walls))

    @staticmethod
    def spread(walls):
        """(max - min) / median of the runs, as the tables show it beside a median."""
        med = statistics.median(walls)
        return (max(walls) - min(walls)) / med if med else 0.0

    # -- commands ------------------------------------------------------------------------

    def vm(self, label, source, out, check=None, extra=(), cache=None):
        # Unless a cache is given (the cache rows), a cold pull with the default behaviour (the
        # cache on) into an empty cache of its own, removed after each run: no run reuses what an
        # earlier one fetched.
        cleanup = []
        if cache is None:
            cache = self.out / f"cache-{label.replace(' ', '-')}"
            cleanup = [cache]
        c = Command(label, argv=[self.vmpull, "pull", "-q", "--cache-dir", str(cache), *extra, "-o", str(out),
                                 str(source)], output=out, check=check, cleanup=cleanup)
        c.describe_short = "vmpull"
        return c

    def peer(self, label, line, out, short=None, cleanup=()):
        sync = f" && sync {shlex.quote(str(out))}" if self.args.peer_sync else ""
        c = Command(label, shell=f"{line}{sync}", output=out, cleanup=cleanup)
        c.describe_short = short or line
        return c

    # -- sections --------------------------------------------------------------------------

    def codec_case(self, name, image, peers, check):
        """One case: vmpull against each peer, (label, shell line with {i} for image and {o} for the
        output), on image; vmpull's output checked against check."""
        po, q = self.out / "peer.out", lambda p: shlex.quote(str(p))
        cmds = [self.vm("vmpull", image, self.out / "vmpull.out", check=check)]
        for label, line in peers:
            cmds.append(self.peer(label, line.format(i=q(image), o=q(po)), po, short=label))
        return self.run_case(name, cmds, inputs=[image])

    def section_local(self):
        w = self.work
        raw = w / "disk.raw"

        def codec_case(name, image, peers, check=raw):
            r = self.codec_case(name, image, peers, check)
            for label, _line in peers:
                self.decode_time[(image.name, label)] = statistics.median(r[label].walls)
            return r

        r = codec_case("xz multi-block (disk.raw.mb.xz)", w / "disk.raw.mb.xz",
                       [("xz -dc", "xz -dc {i} > {o}"), ("xz -T0 -dc", "xz -T0 -dc {i} > {o}")])
        self.compare("local", "xz, 64 MiB blocks", r, "vmpull", "xz -dc", 0.6)
        self.compare("local", "xz, 64 MiB blocks", r, "vmpull", "xz -T0 -dc")
        self.blocks_row("xz, 64 MiB blocks", r["vmpull"])
        self.rss_row("xz, 64 MiB blocks, 2 GiB (multi-threaded: exempt)", r["vmpull"], None)

        r = codec_case("xz single block (disk.raw.xz)", w / "disk.raw.xz",
                       [("xz -dc", "xz -dc {i} > {o}"), ("xz -T0 -dc", "xz -T0 -dc {i} > {o}")])
        self.compare("local", "xz, one block", r, "vmpull", "xz -dc", 1.05)
        self.compare("local", "xz, one block", r, "vmpull", "xz -T0 -dc")
        self.blocks_row("xz, one block", r["vmpull"])
        self.rss_row("xz, one block, 2 GiB", r["vmpull"], 64 * 1024)

        r = codec_case("zstd -14 (disk.raw.zst)", w / "disk.raw.zst", [("zstd -dc", "zstd -qdc {i} > {o}")])
        self.compare("local", "zstd -14", r, "vmpull", "zstd -dc", 1.05)
        self.blocks_row("zstd -14", r["vmpull"])
        self.rss_row("zstd, 2 GiB", r["vmpull"], 64 * 1024)

        r = codec_case("gzip -6 (disk.raw.gz)", w / "disk.raw.gz",
                       [("gzip -dc", "gzip -dc {i} > {o}"), ("pigz -dc", "pigz -dc {i} > {o}")])
        self.compare("local", "gzip -6", r, "vmpull", "gzip -dc", 0.6)
        self.compare("local", "gzip -6", r, "vmpull", "pigz -dc")
        self.blocks_row("gzip -6", r["vmpull"])
        self.rss_row("gzip, 2 GiB", r["vmpull"], 64 * 1024)


        qcow = w / "disk.qcow2"
        r = codec_case("qcow2, xz 64 MiB blocks (disk.qcow2.xz)", w / "disk.qcow2.xz",
                       [("xz -dc", "xz -dc {i} > {o}"), ("xz -T0 -dc", "xz -T0 -dc {i} > {o}")], check=qcow)
        self.compare("local", "qcow2, xz 64 MiB blocks", r, "vmpull", "xz -dc", 0.6)
        self.compare("local", "qcow2, xz 64 MiB blocks", r, "vmpull", "xz -T0 -dc")

    def section_copy(self):
        """Issue 17: an uncompressed local disk is copied (a reflink, or its data extents), not
        decoded: against cp --sparse=always, and with --digest against sha256sum."""
        w = self.work
        raw, qcow = w / "disk.raw", w / "disk.qcow2"
        vo = self.out / "vmpull.out"

        r = self.codec_case("raw (disk.raw)", raw, [("cp --sparse=always", "cp --sparse=always {i} {o}")], raw)
        self.compare("local", "raw, uncompressed", r, "vmpull", "cp --sparse=always", 1.2)
        self.blocks_row("raw, uncompressed", r["vmpull"])
        self.blocks_row("raw, uncompressed (cp --sparse=always)", r["cp --sparse=always"])
        self.rss_row("raw, 2 GiB", r["vmpull"], 64 * 1024)

        r = self.codec_case("qcow2 (disk.qcow2)", qcow, [("cp --sparse=always", "cp --sparse=always {i} {o}")], qcow)
        self.compare("local", "qcow2, uncompressed", r, "vmpull", "cp --sparse=always", 1.2)

        # With --digest the copy hashes every byte (holes as zeros, unread): against sha256sum of the file.
        digest = "sha256:" + self.file_digest(raw)
        cmds = [self.vm("vmpull", raw, vo, check=raw, extra=["--digest", digest]),
                Command("sha256sum", argv=["sha256sum", str(raw)])]
        cmds[1].describe_short = "sha256sum"
        r = self.run_case("raw --digest (disk.raw)", cmds, inputs=[raw])
        self.compare("local", "raw, uncompressed, --digest", r, "vmpull", "sha256sum", 1.2)
        if self.args.reflink_dir:
            self.local_reflink_rows(raw)

    def file_digest(self, path):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(MIB), b""):
                h.update(block)
        return h.hexdigest()

    def local_reflink_rows(self, raw):
        """--reflink-dir: the raw disk and its output on a filesystem that clones (XFS reflink=1,
        btrfs): the copy is a FICLONE, against the same pull on the work folder's filesystem."""
        d = Path(self.args.reflink_dir) / "vmpull-bench-local"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        src = d / raw.name
        subprocess.run(["cp", "--sparse=always", str(raw), str(src)], check=True)
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(d)], capture_output=True,
                            text=True).stdout.strip()
        home = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(self.out)], capture_output=True,
                              text=True).stdout.strip()
        cmds = [self.vm("reflink", src, d / "vmpull.out", check=raw),
                self.vm("copy", raw, self.out / "vmpull.out", check=raw)]
        r = self.run_case(f"raw on {fs} (reflink) and on {home}", cmds, inputs=[raw, src])
        r["copy"].describe_short = f"vmpull on {home} (extent copy)"
        self.compare("local", f"raw, uncompressed, on {fs} (reflink)", r, "reflink", "copy", 0.05)
        shutil.rmtree(d, ignore_errors=True)

    def section_xzmem(self):
        """Issue 17: multi-threaded xz's peak RSS side by side with xz -T2 -dc (2 decoder threads, as
        vmpull uses on 2 CPUs), the same file in the same run, alternating; the time beside it."""
        w, o = self.work, self.out
        vo, po = o / "vmpull.out", o / "peer.out"
        for name, check in (("disk.raw.mb.xz", w / "disk.raw"), ("disk.qcow2.xz", w / "disk.qcow2")):
            image = w / name
            if not image.exists():
                continue
            cmds = [self.vm("vmpull", image, vo, check=check),
                    self.peer("xz -T2 -dc", f"xz -T2 -dc {shlex.quote(str(image))} > {shlex.quote(str(po))}", po,
                              short="xz -T2 -dc")]
            r = self.run_case(f"xz memory ({name})", cmds, inputs=[image])
            self.compare("xzmem", f"{name}, time beside the RSS row", r, "vmpull", "xz -T2 -dc", 1.05)
            v, p = r["vmpull"], r["xz -T2 -dc"]
            self.rss_peers.append((name, statistics.median(v.rss_kib), "xz -T2 -dc", statistics.median(p.rss_kib),
                                   1.1, max(v.rss_kib), max(p.rss_kib)))

    def section_rss(self):
        w, o = self.work, self.out
        vo = o / "vmpull.out"
        for size in ("1g", "8g"):
            raw = w / f"sparse{size}.raw"
            for suffix, codec, limit in ((".zst", "zstd", True), (".gz", "gzip", True), ("", "raw", True),
                                         (".mb.xz", "xz 64 MiB blocks (multi-threaded: exempt)", False)):
                image = Path(f"{raw}{suffix}")
                c = self.vm("vmpull", image, vo, check=raw)
                r = self.run_case(f"RSS {image.name}", [c], inputs=[image])
                case = f"{codec}, {size[0]} GiB, mostly sparse"
                self.rss_row(case, r["vmpull"], 64 * 1024 if limit else None)
                self.blocks_row(case, r["vmpull"], nonzero_of=raw)

    # -- rows ------------------------------------------------------------------------------

    def blocks_row(self, case, cmd, nonzero_of=None):
        ref = nonzero_of or (self.work / "disk.raw")
        nz = int(Path(f"{ref}.nonzero").read_text()) * 4096
        # qcow2 outputs are not raw images: the rule is about raw disks only.
        self.blocks.append((case, cmd.allocated, nz, cmd.allocated / nz))

    def rss_row(self, case, cmd, limit_kib):
        self.rss.append((case, max(cmd.rss_kib), limit_kib))

    # -- servers -----------------------------------------------------------------------------

    def run_nginx(self, ports, servers):
        """nginx in the foreground with these server blocks (text), waiting for every port."""
        d = Path(tempfile.mkdtemp(prefix="nginx-", dir=self.out))
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / sub).mkdir()
        conf = d / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
{servers}
}}
""")
        proc = subprocess.Popen(["nginx", "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.servers.append((proc, d))
        for p in ports.values():
            wait_port(p, proc, "nginx")
        return ports

    def start_nginx(self):
        ports = {"unlimited": free_port(), "50m": free_port()}
        return self.run_nginx(ports, f"""  server {{
    listen 127.0.0.1:{ports['unlimited']};
    root {self.work};
    # /rate/<rate>/<file>: the file at <rate> (nginx limit_rate syntax), for the balanced rows.
    location ~ ^/rate/(?<rate>[0-9]+[kKmM]?)/(?<rest>.*)$ {{
      alias {self.work}/$rest;
      limit_rate $rate;
      sendfile_max_chunk 256k;
    }}
  }}
  # Small sendfile chunks: otherwise nginx sends a large chunk at once, then sleeps, and the
  # 50 MB/s link delivers in bursts.
  server {{ listen 127.0.0.1:{ports['50m']}; root {self.work}; limit_rate 50m; sendfile_max_chunk 256k; }}""")

    def stop_servers(self):
        for proc, d in reversed(self.servers):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            shutil.rmtree(d, ignore_errors=True)
        self.servers = []

    def vmpull_supports(self, source, out, extra=()):
        """Does this vmpull build pull this kind of source yet? (probe with a small image)"""
        r = subprocess.run([self.vmpull, "pull", "-q", "--replace", *extra, "-o", str(out), source],
                           capture_output=True, text=True)
        if out.exists():
            out.unlink()
        return r.returncode == 0, r.stderr.strip()

    def section_http(self):
        w, o = self.work, self.out
        ports = self.start_nginx()
        probe = f"http://127.0.0.1:{ports['unlimited']}/sparse1g.raw.zst"
        ok, why = self.vmpull_supports(probe, o / "probe.out")
        if not ok:
            self.notes.append(f"http rows skipped: this vmpull cannot pull {probe} yet ({why})")
            log(self.notes[-1])
            return
        raw = w / "disk.raw"
        vo, po, dl = o / "vmpull.out", o / "peer.out", o / "download"
        q = lambda p: shlex.quote(str(p))
        codecs = (
            ("xz, 64 MiB blocks", "disk.raw.mb.xz", "xz -T0 -dc"),
            ("xz, one block", "disk.raw.xz", "xz -dc"),
            ("zstd -14", "disk.raw.zst", "zstd -qdc"),
            ("gzip -6", "disk.raw.gz", "pigz -dc"),
        )
        for rate in ("unlimited", "50m"):
            for case, name, cli in codecs:
                url = f"http://127.0.0.1:{ports[rate]}/{name}"
                cmds = [
                    self.vm("vmpull", url, vo, check=raw),
                    self.peer("sequential", f"curl -sSf -o {q(dl)} {q(url)} && {cli} {q(dl)} > {q(po)}", po,
                              short=f"curl -o, then {cli}", cleanup=[dl]),
                    self.peer("streaming", f"curl -sSf {q(url)} | {cli} > {q(po)}", po,
                              short=f"curl \\| {cli}"),
                ]
                if case == "xz, 64 MiB blocks":
                    cmds.append(self.peer("sequential xz -dc", f"curl -sSf -o {q(dl)} {q(url)} && xz -dc {q(dl)} > {q(po)}",
                                          po, short="curl -o, then xz -dc", cleanup=[dl]))
                if case == "xz, one block":
                    cmds.append(self.peer("sequential xz -T0", f"curl -sSf -o {q(dl)} {q(url)} && xz -T0 -dc {q(dl)} > {q(po)}",
                                          po, short="curl -o, then xz -T0 -dc", cleanup=[dl]))
                r = self.run_case(f"http {rate} {name}", cmds, inputs=[w / name])
                label = f"{case}, http {'unlimited' if rate == 'unlimited' else '50 MB/s'}"
                self.compare("http", label, r, "vmpull", "streaming", 1.05)
                if rate == "50m" and case == "xz, 64 MiB blocks":
                    self.compare("http", label, r, "vmpull", "sequential", 0.65)
                    self.compare("http", label, r, "vmpull", "sequential xz -dc")
                elif rate == "50m" and case == "xz, one block":
                    self.compare("http", label, r, "vmpull", "sequential", 0.8)
                    self.compare("http", label, r, "vmpull", "sequential xz -T0")
                else:
                    self.compare("http", label, r, "vmpull", "sequential")
                self.rss_row(label, r["vmpull"], None if "64 MiB" in case else 64 * 1024)
        self.stop_servers()

    def section_balanced(self):
        w, o = self.work, self.out
        ports = self.start_nginx()
        raw = w / "disk.raw"
        vo, po, dl = o / "vmpull.out", o / "peer.out", o / "download"
        q = lambda p: shlex.quote(str(p))
        # The 50 MB/s targets assume a link on which downloading and decoding cost about the same;
        # for this image xz decodes far slower than 50 MB/s arrive, so overlapping the two can save
        # at most the download time. These rows use the rate at which the download takes as long as
        # the CLI's decode of the local file (measured in the local rows, else now, once).
        for case, name, cli in (("xz, 64 MiB blocks", "disk.raw.mb.xz", "xz -T0 -dc"),
                                ("xz, one block", "disk.raw.xz", "xz -dc")):
            rate_k = self.balanced_rate_k(name, cli)
            url = f"http://127.0.0.1:{ports['unlimited']}/rate/{rate_k}k/{name}"
            cmds = [
                self.vm("vmpull", url, vo, check=raw),
                self.peer("sequential", f"curl -sSf -o {q(dl)} {q(url)} && {cli} {q(dl)} > {q(po)}", po,
                          short=f"curl -o, then {cli}", cleanup=[dl]),
                self.peer("streaming", f"curl -sSf {q(url)} | {cli} > {q(po)}", po, short=f"curl \\| {cli}"),
            ]
            r = self.run_case(f"http {rate_k}k {name}", cmds, inputs=[w / name])
            label = f"{case}, http {rate_k / 1000:.0f} MB/s (download = decode)"
            self.compare("http", label, r, "vmpull", "streaming")
            self.compare("http", label, r, "vmpull", "sequential")
        self.stop_servers()

    def start_registry(self):
        d = Path(tempfile.mkdtemp(prefix="registry-", dir=self.out))
        port = free_port()
        conf = d / "config.yml"
        conf.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {d}/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
        proc = subprocess.Popen(["docker-registry", "serve", str(conf)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.servers.append((proc, d))
        wait_port(port, proc, "docker-registry")
        return port

    def start_registry_links(self, registry_port, rates):
        """nginx in front of the registry, one port per rate (nginx limit_rate syntax): the
        registry behind a link of that speed, for vmpull and skopeo alike."""
        ports = {rate: free_port() for rate in rates}
        links = (registry_link(port, registry_port, rate) for rate, port in ports.items())
        return self.run_nginx(ports, "\n".join(links))

    def balanced_rate_k(self, name, cli):
        """The rate (kB/s) at which downloading `name` takes as long as `cli` decoding it locally
        (the local rows' median, else measured now, once)."""
        w, po, q = self.work, self.out / "peer.out", lambda p: shlex.quote(str(p))
        decode = self.decode_time.get((name, cli))
        if decode is None:
            t0 = time.monotonic()
            subprocess.run(f"{cli} {q(w / name)} > {q(po)} && sync {q(po)}", shell=True, check=True)
            decode = time.monotonic() - t0
            po.unlink()
            self.decode_time[(name, cli)] = decode
        return max(1, int((w / name).stat().st_size / decode / 1000))

    def oci_layout(self, image, title, media_type):
        """An OCI layout holding `image` as a machine-OS disk artifact (podman 5's format):
        an index whose one entry is annotated disktype=qemu, a manifest with one titled layer.
        The layer blob is a hard link to the image (no copy of the bytes)."""
        lay = Path(tempfile.mkdtemp(prefix="layout-", dir=self.out))
        blobs = lay / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        (lay / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))

        def put(data, mt, **extra):
            hexd = hashlib.sha256(data).hexdigest()
            (blobs / hexd).write_bytes(data)
            return {"mediaType": mt, "digest": f"sha256:{hexd}", "size": len(data), **extra}

        h = hashlib.sha256()
        with open(image, "rb") as f:
            while chunk := f.read(16 * MIB):
                h.update(chunk)
        layer_hex = h.hexdigest()
        os.link(image, blobs / layer_hex)
        layer = {"mediaType": media_type, "digest": f"sha256:{layer_hex}", "size": image.stat().st_size,
                 "annotations": {"org.opencontainers.image.title": title}}
        empty = put(b"{}", "application/vnd.oci.empty.v1+json")
        manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "artifactType": "application/vnd.podman.machine-os.disk",
                                   "config": empty, "layers": [layer]}).encode(),
                       "application/vnd.oci.image.manifest.v1+json")
        manifest["platform"] = {"architecture": "amd64", "os": "linux"}
        manifest["annotations"] = {"disktype": "qemu"}
        index = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                "manifests": [manifest]}).encode(), "application/vnd.oci.image.index.v1+json")
        index["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
        (lay / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": index["mediaType"],
                                                    "manifests": [index]}))
        return lay, layer_hex

    def section_oci(self):
        w, o = self.work, self.out
        raw = w / "disk.raw"
        codecs = (
            ("xz, 64 MiB blocks", "disk.raw.mb.xz", "application/x-xz", "xz -T0 -dc"),
            ("xz, one block", "disk.raw.xz", "application/x-xz", "xz -dc"),
            ("zstd -14", "disk.raw.zst", "application/zstd", "zstd -qdc"),
            ("gzip -6", "disk.raw.gz", "application/gzip", "pigz -dc"),
        )
        port = self.start_registry()
        tags = {}
        for case, name, mt, _cli in codecs:
            lay, layer_hex = self.oci_layout(w / name, name, mt)
            tag = name.replace(".", "-")
            subprocess.run(["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{lay}:latest",
                            f"docker://127.0.0.1:{port}/bench/disk:{tag}"], check=True)
            shutil.rmtree(lay)
            tags[name] = (tag, layer_hex)
        probe = f"docker://127.0.0.1:{port}/bench/disk:{tags['disk.raw.zst'][0]}"
        ok, why = self.vmpull_supports(probe, o / "probe.out", extra=["--tls-verify=false"])
        if not ok:
            self.notes.append(f"oci rows skipped: this vmpull cannot pull {probe} yet ({why})")
            log(self.notes[-1])
            return
        vo, po, oci_dir = o / "vmpull.out", o / "peer.out", o / "skopeo-oci"
        q = lambda p: shlex.quote(str(p))
        for case, name, _mt, cli in codecs:
            tag, layer_hex = tags[name]
            ref = f"docker://127.0.0.1:{port}/bench/disk:{tag}"
            blob = oci_dir / "blobs" / "sha256" / layer_hex
            cmds = [
                self.vm("vmpull", ref, vo, check=raw, extra=["--tls-verify=false"]),
                self.peer("sequential", f"skopeo copy -q --src-tls-verify=false {q(ref)} oci:{q(oci_dir)}:disk"
                          f" && {cli} {q(blob)} > {q(po)}", po, short=f"skopeo copy, then {cli}", cleanup=[oci_dir]),
                # The second half of the sequential way alone: the same bytes, already local.
                self.peer("decode alone", f"{cli} {q(w / name)} > {q(po)}", po, short=f"{cli} of the local blob alone"),
                self.vm("vmpull local", w / name, vo),
            ]
            r = self.run_case(f"oci {name}", cmds, inputs=[w / name])
            label = f"{case}, docker:// (loopback registry)"
            self.compare("oci", label, r, "vmpull", "sequential", 0.6)
            self.compare("oci", label, r, "vmpull", "decode alone", 1.05)
            r["vmpull local"].describe_short = f"vmpull {name} (local file)"
            self.compare("oci", label, r, "vmpull", "vmpull local")
            self.rss_row(label, r["vmpull"], None if "64 MiB" in case else 64 * 1024)

        # On loopback the copy costs next to nothing, so the sequential way is little more than
        # its decode. Behind a link (nginx in front of the registry) the copy takes real time:
        # at 50 MB/s, and for xz at the rate where the copy takes as long as the decode.
        links = {"50m": "50 MB/s"}
        for _case, name, _mt, cli in codecs[:2]:
            k = self.balanced_rate_k(name, cli)
            links[f"{k}k"] = f"{k / 1000:.0f} MB/s (copy = decode)"
        link_ports = self.start_registry_links(port, list(links))
        for rate, shown in links.items():
            for case, name, _mt, cli in codecs:
                if "copy = decode" in shown and self.balanced_rate_k(name, cli) != int(rate[:-1]):
                    continue
                tag, layer_hex = tags[name]
                ref = f"docker://127.0.0.1:{link_ports[rate]}/bench/disk:{tag}"
                blob = oci_dir / "blobs" / "sha256" / layer_hex
                cmds = [
                    self.vm("vmpull", ref, vo, check=raw, extra=["--tls-verify=false"]),
                    self.peer("sequential", f"skopeo copy -q --src-tls-verify=false {q(ref)} oci:{q(oci_dir)}:disk"
                              f" && {cli} {q(blob)} > {q(po)}", po, short=f"skopeo copy, then {cli}",
                              cleanup=[oci_dir]),
                ]
                r = self.run_case(f"oci {rate} {name}", cmds, inputs=[w / name])
                self.compare("oci", f"{case}, docker:// at {shown}", r, "vmpull", "sequential", 0.6)
        self.stop_servers()

    # -- issue 17: a link that caps each connection ----------------------------------------

    def start_capped_nginx(self, registry_port=None):
        """nginx capping every connection at 10 MB/s (limit_rate is per connection), serving the
        images (and, with registry_port, the registry behind it), with an access log of the body
        bytes each request sent: the bytes over the network are counted by the server."""
        ports = {"http": free_port()}
        if registry_port:
            ports["registry"] = free_port()
        d_log = self.out / "capped-access.log"
        if d_log.exists():
            d_log.unlink()
        fmt = "log_format bytes '$request_method $uri $status $body_bytes_sent \"$http_range\"';"
        servers = f"""  {fmt}
  server {{
    listen 127.0.0.1:{ports['http']};
    access_log {d_log} bytes;
    root {self.work};
    limit_rate 10m;
    sendfile_max_chunk 256k;
  }}"""
        if registry_port:
            servers += "\n" + registry_link(ports["registry"], registry_port, "10m", access_log=f"{d_log} bytes")
        ports.update(self.run_nginx(ports, servers))
        return ports, d_log

    @staticmethod
    def logged_bytes(log_path, name, since=0):
        """Body bytes the server sent for paths ending in name, in log lines after line `since`."""
        total = 0
        lines = log_path.read_text().splitlines() if log_path.exists() else []
        for line in lines[since:]:
            parts = line.split(" ")
            if len(parts) >= 4 and parts[1].endswith(name):
                total += int(parts[3])
        return total, len(lines)

    def section_segments(self):
        """Issue 17: segmented downloads against a link that caps each connection at 10 MB/s."""
        w, o = self.work, self.out
        raw = w / "disk.raw"
        vo, po, dl = o / "vmpull.out", o / "peer.out", o / "download"
        dl_dir = o / "aria2"
        q = lambda p: shlex.quote(str(p))
        registry = self.start_registry()
        ports, access = self.start_capped_nginx(registry)
        aria = shutil.which("aria2c")
        if not aria:
            self.notes.append("segments: aria2c is not installed (scripts/install-deps bench): its rows are skipped")
        for case, name, cli, targets in (
                ("zstd -14", "disk.raw.zst", "zstd -qdc", {"streaming": 0.30, "aria2c": 1.0}),
                ("xz, 64 MiB blocks", "disk.raw.mb.xz", "xz -T0 -dc", {"streaming": 0.6})):
            url = f"http://127.0.0.1:{ports['http']}/{name}"
            cmds = [
                self.vm("vmpull", url, vo, check=raw),
                self.vm("vmpull 1 connection", url, vo, extra=["--connections", "1"]),
                self.peer("streaming", f"curl -sSf {q(url)} | {cli} > {q(po)}", po, short=f"curl \\| {cli}"),
            ]
            if aria:
                cmds.append(self.peer("aria2c", f"aria2c -q -x8 -s8 --file-allocation=none --allow-overwrite=true "
                                      f"-d {q(dl_dir)} -o {name} {q(url)} && {cli} {q(dl_dir / name)} > {q(po)}",
                                      po, short=f"aria2c -x8 -s8, then {cli}", cleanup=[dl_dir]))
            r = self.run_case(f"capped {name}", cmds, inputs=[w / name])
            label = f"{case}, http, 10 MB/s per connection"
            for peer, target in (("streaming", targets.get("streaming")), ("aria2c", targets.get("aria2c")),
                                 ("vmpull 1 connection", None)):
                if peer in r:
                    if peer == "vmpull 1 connection":
                        r[peer].describe_short = "vmpull --connections 1"
                    self.compare("segments", label, r, "vmpull", peer, target)
            self.bytes_rows(label, url, name, access)
        self.kill_resume_row(f"http://127.0.0.1:{ports['http']}/disk.raw.zst", "disk.raw.zst", access)
        self.registry_capped_rows(registry, ports["registry"], access)
        self.stop_servers()

    def bytes_rows(self, label, url, name, access):
        """Bytes the server sent for one cold vmpull, against the file's size."""
        cache = self.out / "cache-bytes"
        shutil.rmtree(cache, ignore_errors=True)
        time.sleep(1)
        _, since = self.logged_bytes(access, name)
        subprocess.run([self.vmpull, "pull", "-q", "--cache-dir", str(cache), "-o", str(self.out / "vmpull.out"),
                        url], check=True, stdout=subprocess.DEVNULL)
        time.sleep(1)  # nginx logs a request when its connection is done with it
        sent, _ = self.logged_bytes(access, name, since)
        size = (self.work / name).stat().st_size
        self.byte_rows.append((f"{label}: bytes sent by the server for one pull", sent, size, 1.01))
        shutil.rmtree(cache, ignore_errors=True)
        (self.out / "vmpull.out").unlink(missing_ok=True)

    def kill_resume_row(self, url, name, access, reps=3):
        """kill -9 once half the file is in the cache's partial, then a second pull: the bytes the
        server sends for the second pull, against the file's size (median of reps)."""
        size = (self.work / name).stat().st_size
        cache, out = self.out / "cache-kill", self.out / "vmpull.out"
        seconds = []
        for _ in range(reps):
            shutil.rmtree(cache, ignore_errors=True)
            proc = subprocess.Popen([self.vmpull, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), url],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            have = 0
            while proc.poll() is None:
                # What the pull has written so far: the allocated blocks of its partial(s).
                have = sum(p.stat().st_blocks * 512 for p in (cache / "partial").glob("*")
                           if p.is_file()) if (cache / "partial").is_dir() else 0
                if have >= size // 2:
                    proc.kill()
                    break
                time.sleep(0.02)
            proc.wait()
            if have < size // 2:
                raise RuntimeError(f"kill-resume: the pull ended before half of {name} was received")
            time.sleep(1.5)
            _, since = self.logged_bytes(access, name)
            t0 = time.monotonic()
            subprocess.run([self.vmpull, "pull", "-q", "--cache-dir", str(cache), "-o", str(out), url], check=True,
                           stdout=subprocess.DEVNULL)
            seconds.append(time.monotonic() - t0)
            time.sleep(1.5)
            sent, _ = self.logged_bytes(access, name, since)
            r = subprocess.run(["cmp", "-s", str(out), str(self.work / "disk.raw")])
            if r.returncode != 0:
                raise RuntimeError(f"kill-resume: the resumed output differs from disk.raw")
            out.unlink()
            self.kill_sent.append(sent)
        shutil.rmtree(cache, ignore_errors=True)
        sent = statistics.median(self.kill_sent)
        self.byte_rows.append((f"{name}, http 10 MB/s per connection: second pull after kill -9 at half "
                               f"(median of {reps}, {min(self.kill_sent)}..{max(self.kill_sent)} B)",
                               sent, size, 0.55))
        self.kill_sent = []

    def registry_capped_rows(self, registry, port, access):
        """The zstd image from a registry behind the same capped link: vmpull against skopeo copy
        (one connection per blob) then zstd -dc, and against vmpull --connections 1."""
        w, o = self.work, self.out
        name, cli = "disk.raw.zst", "zstd -qdc"
        lay, layer_hex = self.oci_layout(w / name, name, "application/zstd")
        subprocess.run(["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", f"oci:{lay}:latest",
                        f"docker://127.0.0.1:{registry}/bench/capped:zst"], check=True)
        shutil.rmtree(lay)
        ref = f"docker://127.0.0.1:{port}/bench/capped:zst"
        vo, po, oci_dir = o / "vmpull.out", o / "peer.out", o / "skopeo-oci"
        q = lambda p: shlex.quote(str(p))
        blob = oci_dir / "blobs" / "sha256" / layer_hex
        cmds = [
            self.vm("vmpull", ref, vo, check=w / "disk.raw", extra=["--tls-verify=false"]),
            self.vm("vmpull 1 connection", ref, vo, extra=["--tls-verify=false", "--connections", "1"]),
            self.peer("sequential", f"skopeo copy -q --src-tls-verify=false {q(ref)} oci:{q(oci_dir)}:disk"
                      f" && {cli} {q(blob)} > {q(po)}", po, short=f"skopeo copy, then {cli}", cleanup=[oci_dir]),
        ]
        r = self.run_case("capped registry disk.raw.zst", cmds, inputs=[w / name])
        r["vmpull 1 connection"].describe_short = "vmpull --connections 1"
        label = "zstd -14, docker:// behind 10 MB/s per connection"
        self.compare("segments", label, r, "vmpull", "sequential", 0.30)
        self.compare("segments", label, r, "vmpull", "vmpull 1 connection")

    def section_cache(self):
        """Issue 5: a warm pull (blob in the cache) against decoding the local file, and a second
        machine from a kept decoded disk (--keep-uncompressed) against a cold pull."""
        w, o = self.work, self.out
        ports = self.start_nginx()
        raw = w / "disk.raw"
        vo = o / "vmpull.out"
        warm_cache, keep_cache = o / "cache-warm", o / "cache-keep"

        def reset():
            for d in (warm_cache, keep_cache):
                shutil.rmtree(d, ignore_errors=True)

        for case, name, cli in (("zstd -14", "disk.raw.zst", "zstd -qdc"),
                                ("xz, 64 MiB blocks", "disk.raw.mb.xz", "xz -T0 -dc")):
            url = f"http://127.0.0.1:{ports['unlimited']}/{name}"
            cmds = [
                self.vm("cold", url, vo, check=raw, cache=warm_cache),
                self.vm("warm", url, vo, check=raw, cache=warm_cache),
                self.vm("local file", w / name, vo),
                self.vm("cold, keep", url, vo, check=raw, cache=keep_cache, extra=["--keep-uncompressed"]),
                self.vm("second machine", url, vo, check=raw, cache=keep_cache, extra=["--keep-uncompressed"]),
            ]
            r = self.run_case(f"cache {name}", cmds, inputs=[w / name], rotate=False, before_rep=reset)
            fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(o)], capture_output=True,
                                text=True).stdout.strip() or "this filesystem"
            r["local file"].describe_short = f"vmpull {name} (local file)"
            r["cold"].describe_short = "cold pull (empty cache)"
            r["cold, keep"].describe_short = "cold pull with --keep-uncompressed"
            self.compare("cache", f"{case}, warm pull (blob cached, 304)", r, "warm", "local file", 1.0)
            # Recording the kept disk's chunk map while writing, and checking it on reuse (issue 12).
            self.compare("cache", f"{case}, cold pull with --keep-uncompressed", r, "cold, keep", "cold", 1.05)
            second = f"{case}, second machine, checked ({fs}: no reflink)"
            self.compare("cache", second, r, "second machine", "cold", 0.15 if "xz" in case else 0.5)
            self.compare("cache", second, r, "second machine", "cold, keep")
            if self.args.reflink_dir:
                self.reflink_rows(case, url, raw)
        reset()
        self.stop_servers()

    def reflink_rows(self, case, url, raw):
        """--reflink-dir: the second machine where the kept disk and the output share a filesystem
        that clones (FICLONE): XFS with reflink=1, btrfs. A loop-mounted image will do."""
        d = Path(self.args.reflink_dir) / "vmpull-bench"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        cache, cold_cache, out = d / "cache", d / "cache-cold", d / "vmpull.out"
        cmds = [
            self.vm("cold", url, out, check=raw, cache=cold_cache),
            self.vm("cold, keep", url, out, check=raw, cache=cache, extra=["--keep-uncompressed"]),
            self.vm("second machine", url, out, check=raw, cache=cache, extra=["--keep-uncompressed"]),
        ]
        r = self.run_case(f"cache reflink {case}", cmds, rotate=False,
                          before_rep=lambda: [shutil.rmtree(c, ignore_errors=True) for c in (cache, cold_cache)])
        fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", str(d)], capture_output=True,
                            text=True).stdout.strip()
        r["cold"].describe_short = "cold pull (empty cache)"
        r["cold, keep"].describe_short = "cold pull with --keep-uncompressed"
        # The clone plus one read of its data chunks (the check): no ratio target of its own.
        self.compare("cache", f"{case}, second machine, checked ({fs}: reflink)", r, "second machine", "cold")
        self.compare("cache", f"{case}, second machine, checked ({fs}: reflink)", r, "second machine", "cold, keep")
        shutil.rmtree(d, ignore_errors=True)

    # -- report ----------------------------------------------------------------------------

    def report(self):
        lines = []
        lines.append(f"vmpull benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
                     f"median of {self.reps} runs (spread: (max - min) / median), peers{' fsync their output (sync FILE)' if self.args.peer_sync else ' without fsync'}")
        lines.append("")
        lines.append("| Section | Image | vmpull (spread) | Peer | Peer time (spread) | Ratio | Target | Met |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for i, (section, case, subject, peer, s, p, ratio, target, _rss) in enumerate(self.rows):
            met = "" if target is None else ("yes" if ratio <= target else "**no**")
            tgt = "" if target is None else f"<= {target:g}x"
            ss, ps = self.spreads.get(i, (0.0, 0.0))
            lines.append(f"| {section} | {case} | {s:.2f} s ({ss * 100:.0f}%) | {peer} | {p:.2f} s ({ps * 100:.0f}%) | "
                         f"{ratio:.2f}x | {tgt} | {met} |")
        if self.blocks:
            lines.append("")
            lines.append("| Raw output | Allocated | Non-zero data | Ratio | Target | Met |")
            lines.append("|---|---|---|---|---|---|")
            for case, alloc, nz, ratio in self.blocks:
                lines.append(f"| {case} | {human_bytes(alloc)} | {human_bytes(nz)} | {ratio:.3f}x | <= 1.02x | "
                             f"{'yes' if ratio <= 1.02 else '**no**'} |")
        if self.rss:
            lines.append("")
            lines.append("| vmpull peak RSS | RSS | Target | Met |")
            lines.append("|---|---|---|---|")
            for case, kib, limit in self.rss:
                tgt = "exempt" if limit is None else f"<= {limit // 1024} MiB"
                met = "" if limit is None else ("yes" if kib <= limit else "**no**")
                lines.append(f"| {case} | {kib / 1024:.1f} MiB | {tgt} | {met} |")
        if self.rss_peers:
            lines.append("")
            lines.append("| Peak RSS (median, max) | vmpull | Peer | Peer RSS | Ratio | Target | Met |")
            lines.append("|---|---|---|---|---|---|---|")
            for case, v, peer, p, target, vmax, pmax in self.rss_peers:
                ratio = v / p
                lines.append(f"| {case} | {v / 1024:.1f} MiB ({vmax / 1024:.1f}) | {peer} | {p / 1024:.1f} MiB "
                             f"({pmax / 1024:.1f}) | {ratio:.2f}x | <= {target:g}x | "
                             f"{'yes' if ratio <= target else '**no**'} |")
        if self.byte_rows:
            lines.append("")
            lines.append("| Bytes over the network | Bytes | File | Ratio | Target | Met |")
            lines.append("|---|---|---|---|---|---|")
            for case, sent, size, target in self.byte_rows:
                ratio = sent / size
                lines.append(f"| {case} | {human_bytes(sent)} | {human_bytes(size)} | {ratio:.3f}x | <= {target:g}x | "
                             f"{'yes' if ratio <= target else '**no**'} |")
        for n in self.notes:
            lines.append("")
            lines.append(f"Note: {n}")
        text = "\n".join(lines) + "\n"
        print(text)
        if self.args.markdown:
            Path(self.args.markdown).write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "5")))
    ap.add_argument("--sections", default=os.environ.get("BENCH_SECTIONS", "local,copy,xzmem,rss,http,balanced,oci,cache,segments"))
    ap.add_argument("--vmpull", default=os.environ.get("VMPULL_BIN", str(ROOT / "build" / "vmpull")))
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--markdown", default=None, help="also write the tables to this file")
    ap.add_argument("--no-peer-sync", dest="peer_sync", action="store_false")
    ap.add_argument("--reflink-dir", default=os.environ.get("BENCH_REFLINK_DIR"),
                    help="a folder on a filesystem with reflinks (XFS reflink=1, btrfs): adds the cache's "
                         "second-machine rows there, and the copy section's reflink row")
    ap.add_argument("--autogroup-nice", type=int, default=None,
                    help="set the nice value of this session's scheduler autogroup (e.g. -10): with "
                         "autogroups, plain `nice` does not give the benchmark more CPU than other sessions")
    args = ap.parse_args()
    if args.autogroup_nice is not None:
        Path("/proc/self/autogroup").write_text(f"{args.autogroup_nice}\n")
    b = Bench(args)
    b.out.mkdir(parents=True, exist_ok=True)
    group = Path("/proc/self/autogroup")
    log(f"vmpull {b.vmpull}; load average {os.getloadavg()[0]:.2f}"
        + (f"; {group.read_text().strip()}" if group.exists() else ""))
    try:
        for s in args.sections.split(","):
            getattr(b, f"section_{s.strip()}")()
    finally:
        b.stop_servers()
        b.report()


if __name__ == "__main__":
    main()
