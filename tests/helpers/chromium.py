"""Headless Chromium for tests of static pages: find the binary, serve a folder on localhost, run the browser.

The browser is the system package (``apt-get install chromium``); tests skip when it is absent. It runs with
its background networking off (on a closed network those connections are refused and slow it down) and a new
profile folder each time.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


def chromium_or_skip() -> str:
    """The path of the Chromium binary; skips the test when there is none."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("Chromium not installed: apt-get install chromium (Debian/Ubuntu) to run the browser tests")


PROBE_WAIT = "__probe_wait__"
PROBE_RESULT = "__probe_result__"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the folder, plus a probe channel: a page POSTs its findings to ``/__probe_result__``, and
    ``GET /__probe_wait__`` answers only once they came (or after 20 s, before :func:`run_chromium` gives up).
    A page that loads the latter keeps a request pending, which holds headless Chromium's virtual time (and its
    ``--dump-dom``) until the probe is done: decoding audio does not hold it, so without this the browser may
    quit before the probe reports.
    """

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's signature
        pass

    def do_GET(self) -> None:
        if self.path.lstrip("/").startswith(PROBE_WAIT):
            self.server.probe_done.wait(20)
            self.send_response(204)
            self.end_headers()
        else:
            super().do_GET()

    def do_POST(self) -> None:
        if not self.path.lstrip("/").startswith(PROBE_RESULT):
            self.send_error(404)
            return
        self.server.probe_result = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
        self.server.probe_done.set()
        self.send_response(204)
        self.end_headers()


class Served(NamedTuple):
    """A folder served on localhost: its base ``url`` (ending in ``/``) and the server (``probe_result``)."""

    url: str
    server: http.server.ThreadingHTTPServer

    def probe_result(self) -> str | None:
        """What a page POSTed to the probe channel, or ``None``."""
        return self.server.probe_result


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[Served]:
    """Serve ``folder`` (and the probe channel) on a free localhost port in a thread."""
    handler = functools.partial(_Handler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.probe_result, server.probe_done = None, threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}/", server)
    finally:
        server.probe_done.set()  # release a waiting request
        server.shutdown()
        server.server_close()
        thread.join()


def run_chromium(binary: str, url: str, *args: str, timeout: float = 25.0) -> str:
    """Run headless Chromium on ``url`` with extra ``args`` (e.g. ``--dump-dom``); returns its stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
                              capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"chromium exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.stdout
