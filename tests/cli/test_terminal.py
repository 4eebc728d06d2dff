"""`vmpull pull` in a real terminal: tmux runs an interactive bash at 80 and 200 columns, the pull
reads from nginx rate-limited (limit_rate), and capture-pane shows what a user would see.
Then the same pull with stderr a file or a pipe: plain lines only."""
import lzma
import os
import random
import re
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import VMPULL, leftovers

IMAGE = "term/slow.raw.xz"
IMAGE_BYTES = 1200 * 1024   # compressed size, as served
RATE = "400k"               # about 3 s per pull
# the exit status that `; echo rc=$?` prints, not the end of the typed command wrapped onto a row of its own
RC_ROW = re.compile(r"^rc=\d+$")
PROGRESS_ROW = re.compile(r"ETA (\d+:\d\d|--:--)")
DONE_ROW = re.compile(r"^slow\.raw\.xz: [\d.]+ (KiB|MiB) fetched in \d+:\d\d \([\d.]+ (B|KiB|MiB)/s\), "
                      r"[\d.]+ (KiB|MiB) written$")


@pytest.fixture(scope="module")
def slow_image(nginx):
    """An xz image of about IMAGE_BYTES, and its decoded bytes: 20 times as many, so that the
    written figure moves too (random 3 KiB, then zeros, in each 64 KiB)."""
    rnd = random.Random(8)
    raw = b"".join(rnd.randbytes(3 * 1024) + bytes(61 * 1024) for _ in range(IMAGE_BYTES // (3 * 1024)))
    data = lzma.compress(raw, preset=0)
    path = nginx.root / IMAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return nginx.rate_url(RATE, IMAGE), raw


class Tmux:
    """One tmux server of our own (its own socket) running one interactive bash."""

    def __init__(self, tmp_path, width, height=24):
        if not shutil.which("tmux"):
            pytest.fail("tmux is not installed (scripts/install-deps test)")
        self.socket = str(tmp_path / f"tmux-{uuid.uuid4().hex[:8]}")
        self.width = width
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PS1": "$ ",
               "LANG": "C.UTF-8", "NO_COLOR": "1"}
        # TERM as tmux sets it for the pane ("screen"), nothing else from our environment
        shell = "exec env -i TERM=\"$TERM\" " + " ".join(f"{k}='{v}'" for k, v in env.items()) + " bash --norc --noprofile"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)
        self.tmux("set-option", "-g", "status", "off")
        self.wait_for(lambda rows: rows and rows[0].startswith("$"), "a prompt")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=10).stdout

    def rows(self, escapes=False):
        """The screen, one string per row as displayed (wrapped lines are separate rows)."""
        out = self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "t")
        return out.rstrip("\n").split("\n")

    def joined(self):
        """The screen with wrapped rows joined back into the lines that were written."""
        return [r.rstrip() for r in self.tmux("capture-pane", "-p", "-J", "-t", "t").rstrip("\n").split("\n")]

    def cursor(self):
        x, y, visible = self.tmux("display-message", "-p", "-t", "t", "#{cursor_x} #{cursor_y} #{cursor_flag}").split()
        return int(x), int(y), visible == "1"

    def type(self, line):
        self.tmux("send-keys", "-t", "t", "-l", line)
        self.tmux("send-keys", "-t", "t", "Enter")

    def wait_for(self, pred, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [r for r in self.rows()]
            while rows and not rows[-1]:
                rows.pop()
            if pred(rows):
                return rows
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; screen:\n" + "\n".join(self.rows()))

    def close(self):
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(tmp_path):
    made = []

    def make(width):
        t = Tmux(tmp_path, width)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


def progress_rows(rows):
    return [(i, r) for i, r in enumerate(rows) if PROGRESS_ROW.search(r)]


def watch_pull(term, on_progress=None, timeout=60):
    """Snapshots of the screen while the pull runs, until the `rc=` line appears."""
    snapshots = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = term.rows()
        snapshots.append(rows)
        if on_progress and progress_rows(rows):
            on_progress(time.monotonic(), rows)
        if any(RC_ROW.match(r) for r in rows):
            return snapshots
        time.sleep(0.05)
    raise AssertionError("the pull did not finish; screen:\n" + "\n".join(term.rows()))


def check_progress_line(term, rows, width):
    """Exactly one progress row, fitting the width, not continued on the next row."""
    found = progress_rows(rows)
    assert len(found) == 1, "\n".join(rows)
    y, row = found[0]
    assert len(row) <= width - 1, f"progress row of {len(row)} columns at width {width}: {row!r}"
    assert y + 1 >= len(rows) or rows[y + 1] == "", f"progress continues on the next row:\n" + "\n".join(rows)
    return y, row


@pytest.mark.parametrize("width", [80, 200])
def test_progress_in_a_terminal(terminal, slow_image, tmp_path, width):
    url, raw = slow_image
    out = tmp_path / "disk.raw"
    term = terminal(width)
    term.type(f"{VMPULL} pull -o {out} {url}; echo rc=$?")
    snapshots = watch_pull(term)

    during = [s for s in snapshots if progress_rows(s)]
    assert len(during) >= 5, "too few snapshots showed progress"
    positions, percents = set(), []
    for rows in during:
        y, row = check_progress_line(term, rows, width)
        positions.add(y)
        m = re.search(r"(\d+)% ", row)
        assert m, row
        percents.append(int(m.group(1)))
        # the row holds everything: name, bar, figures, rate, ETA, what was written
        assert row.startswith("slow.raw.xz ["), row
        assert re.search(r"\] +\d+% [\d.]+/1\.2 MiB [\d.]+ (B|KiB|MiB)/s ETA \S+ -> [\d.]+ (B|KiB|MiB)$", row), row
    # one row, redrawn in place, moving forward
    assert len(positions) == 1, positions
    assert percents == sorted(percents) and len(set(percents)) >= 3, percents
    # a measured rate and an ETA in minutes:seconds at some point
    assert any(re.search(r" [1-9][\d.]* (KiB|MiB)/s ETA \d+:\d\d ", progress_rows(s)[0][1]) for s in during)
    # the bar uses the room: longer at 200 columns
    bar = max(len(re.search(r"\[[#-]+\]", progress_rows(s)[0][1]).group(0)) for s in during)
    assert bar == (40 if width >= 120 else bar) and bar >= 7

    final = term.wait_for(lambda r: r and r[-1] == "$", "the prompt after the pull")
    assert not progress_rows(final)
    done_at = [i for i, r in enumerate(final) if DONE_ROW.match(r)]
    assert len(done_at) == 1, "\n".join(final)
    i = done_at[0]
    assert final[i + 1:] == [str(out), "rc=0", "$"], "\n".join(final)
    assert out.read_bytes() == raw
    # no colour (NO_COLOR is set, and none is used anyway)
    assert "\x1b[3" not in "\n".join(term.rows(escapes=True))
    x, y, visible = term.cursor()
    assert visible and x == 2


def test_resize_redraws_at_the_new_width(terminal, slow_image, tmp_path):
    url, _ = slow_image
    out = tmp_path / "disk.raw"
    term = terminal(80)
    term.type(f"{VMPULL} pull -o {out} {url}; echo rc=$?")
    # phase -> [(seconds since the resize, screen)]
    state = {"phase": 80, "since": time.monotonic(), "seen": {80: [], 200: [], 60: []}}

    def on_progress(now, rows):
        phase = state["phase"]
        state["seen"][phase].append((now - state["since"], rows))
        if phase == 80 and len(state["seen"][80]) >= 3:
            term.tmux("resize-window", "-t", "t", "-x", "200", "-y", "24")
            state.update(phase=200, since=time.monotonic())
        elif phase == 200 and now - state["since"] > 1.0:
            term.tmux("resize-window", "-t", "t", "-x", "60", "-y", "24")
            state.update(phase=60, since=time.monotonic())

    watch_pull(term, on_progress)
    seen = state["seen"]
    # Data arrives every ~0.2 s and the line is redrawn with it: look from half a second on.
    wide = [rows for t, rows in seen[200] if t > 0.5]
    settled = [rows for t, rows in seen[60] if t > 0.5]
    assert len(seen[80]) >= 3 and wide and settled, {k: len(v) for k, v in seen.items()}
    # At 200 columns the line grew (a longer bar) and still fits.
    for rows in wide:
        assert len(check_progress_line(term, rows, 200)[1]) > 80, rows
    # Shrunk to 60 columns, the terminal re-wrapped the wide line; vmpull redraws on the first row
    # of it and clears the rest: one row of progress and no debris.
    for rows in settled:
        y, row = check_progress_line(term, rows, 60)
        debris = [r for r in rows[y + 1:] + rows[:y] if re.search(r"[#-]{5}\]|/s ETA|-> [\d.]+ \w+B$", r)]
        assert not debris, "\n".join(rows)
    final = term.wait_for(lambda r: r and r[-1] == "$", "the prompt")
    assert "rc=0" in final


@pytest.mark.parametrize("key,status", [("C-c", 130)])
def test_ctrl_c_leaves_a_clean_prompt(terminal, slow_image, tmp_path, key, status):
    url, _ = slow_image
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    term = terminal(80)
    # A slower rate: the pull is surely still running when the key arrives.
    slow_url = url.replace(f"/rate/{RATE}/", "/rate/100k/")
    term.type(f"{VMPULL} pull -o {out_dir}/disk.raw {slow_url}; echo rc=$?")
    term.wait_for(lambda rows: len(progress_rows(rows)) == 1 and "ETA" in rows[-1], "progress")
    time.sleep(0.3)
    sent = time.monotonic()
    term.tmux("send-keys", "-t", "t", key)
    final = term.wait_for(lambda r: r and r[-1] == "$" and any(RC_ROW.match(x) for x in r), "the prompt")
    assert time.monotonic() - sent < 5
    lines = [l for l in term.joined() if l]
    # the command, one error line, the status, a prompt: no progress left, no ^C debris
    assert lines[-3:] == [f"vmpull: pull {slow_url}: cancelled", f"rc={status}", "$"], "\n".join(lines)
    assert not progress_rows(final)
    x, y, visible = term.cursor()
    assert visible and x == 2 and y == len(final) - 1
    assert leftovers(out_dir) == []


def plain_check(text):
    assert "\r" not in text and "\x1b" not in text, repr(text)
    lines = text.splitlines()
    assert lines, "no progress lines"
    for line in lines[:-1]:
        assert re.fullmatch(r"slow\.raw\.xz: \d+% [\d.]+ (B|KiB|MiB) of [\d.]+ MiB, [\d.]+ (B|KiB|MiB)/s, "
                            r"ETA \S+, [\d.]+ (B|KiB|MiB) written", line), line
    assert DONE_ROW.match(lines[-1]), lines[-1]


def test_plain_lines_when_stderr_is_a_file(slow_image, tmp_path):
    url, raw = slow_image
    out = tmp_path / "disk.raw"
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.run([VMPULL, "pull", "-o", str(out), url], stdout=subprocess.PIPE, stderr=err,
                              env={**os.environ, "TERM": "xterm-256color"}, timeout=60)
    assert proc.returncode == 0
    text = log.read_text()
    plain_check(text)
    assert len(text.splitlines()) >= 2  # a line at the start, then the done line
    assert out.read_bytes() == raw


def test_plain_lines_when_stderr_is_a_pipe(slow_image, tmp_path):
    url, _ = slow_image
    proc = subprocess.run([VMPULL, "pull", "-o", str(tmp_path / "disk.raw"), url], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    plain_check(proc.stderr)
    assert proc.stdout == f"{tmp_path / 'disk.raw'}\n"


def test_dumb_terminal_gets_plain_lines(terminal, slow_image, tmp_path):
    """TERM=dumb (an Emacs shell buffer) cannot move the cursor: plain lines there too."""
    url, _ = slow_image
    term = terminal(80)
    log = tmp_path / "typescript"
    # script(1) would need util-linux; tmux's pipe-pane records the raw bytes vmpull wrote.
    term.tmux("pipe-pane", "-t", "t", f"cat > {log}")
    term.type(f"TERM=dumb {VMPULL} pull -o {tmp_path}/disk.raw {url}; echo rc=$?")
    term.wait_for(lambda r: r and r[-1] == "$" and "rc=0" in r, "the prompt", timeout=60)
    term.tmux("pipe-pane", "-t", "t")
    raw = log.read_bytes().decode(errors="replace")
    vm = raw[raw.index("slow.raw.xz:"):raw.index("rc=0")]
    assert "\x1b" not in vm, repr(vm)
    plain_check(vm.replace("\r\n", "\n").split(str(tmp_path / "disk.raw"))[0])
