"""A headless Chromium driven over the Chrome DevTools Protocol, for the published-site
test (test_publish_browser.py).

Chromium speaks the protocol over a pair of pipes (`--remote-debugging-pipe`: it reads
commands on fd 3 and writes replies and events on fd 4, each a JSON text ended by a NUL
byte), so no driver, no WebSocket library and no debugging port are needed: the standard
library is enough, and nothing listens on the network. `Browser` starts Chromium with a fresh
profile, opens one tab and keeps every event it sends (the Network events are how the test
sees each request a page makes)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

# Without the background-networking flags Chromium tries to reach Google's services (updates,
# sync, field trials) at start; on a machine without a network that is noise and delay.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
         "--mute-audio", "--hide-scrollbars", "--window-size=1280,900", "--remote-debugging-pipe"]


def chromium() -> str | None:
    """The Chromium binary: $CHROMIUM, else Debian's chromium on PATH, else None."""
    named = os.environ.get("CHROMIUM")
    return shutil.which(named) if named else shutil.which("chromium") or shutil.which("chromium-browser")


def _high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """One headless Chromium with one tab. `send(method, **params)` runs a command in the
    tab and returns its result; `events` holds every event, in order."""

    def __init__(self, binary: str, profile: Path, timeout: float = 30):
        self.timeout = timeout
        # the pipes' ends, moved above fd 10 so that putting them on 3 and 4 cannot
        # overwrite one with the other (os.pipe() may well return 3 and 4 themselves)
        to_chrome_r, self._to_chrome, self._from_chrome, from_chrome_w = (
            _high(fd) for fd in (*os.pipe(), *os.pipe()))

        def fds() -> None:  # in the child, before exec: the pipes on fds 3 and 4 (dup2 only: no
            # lock another thread could hold is needed, so preexec_fn is safe here)
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.log = open(profile.parent / "chromium.log", "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     close_fds=False, preexec_fn=fds)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next = 0
        self._replies: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self.events: list[dict] = []
        self._event = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.send("Target.createTarget", url="about:blank", session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True,
                                 session=False)["sessionId"]

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self._from_chrome, 1 << 16):
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    with self._event:
                        self.events.append(msg)
                        self._event.notify_all()
        with self._event:
            self.events.append({"method": "closed"})
            self._event.notify_all()

    def send(self, method: str, session: bool = True, **params: Any) -> dict:
        """Run a protocol command (in the tab unless session=False); its result, or an
        AssertionError with the protocol's error."""
        with self._lock:
            self._next += 1
            n = self._next
            q: queue.Queue = queue.Queue()
            self._replies[n] = q
        msg: dict[str, Any] = {"id": n, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=self.timeout)
        except queue.Empty:
            raise AssertionError(f"Chromium did not answer {method} within {self.timeout} s") from None
        assert "error" not in reply, (method, params, reply["error"])
        return reply.get("result", {})

    def wait_for(self, method: str, since: int, predicate=lambda params: True, timeout: float | None = None,
                 why: str = "") -> dict:
        """The first event `method` at or after position `since` in `events` whose params
        satisfy `predicate`; waits for it up to `timeout` (else the browser's), then fails
        saying `why`."""
        timeout = self.timeout if timeout is None else timeout
        end = time.monotonic() + timeout
        with self._event:
            while True:
                for ev in self.events[since:]:
                    if ev.get("method") == method and predicate(ev.get("params", {})):
                        return ev["params"]
                left = end - time.monotonic()
                assert left > 0, why or f"no {method} event within {timeout} s"
                self._event.wait(left)

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def navigate(self, url: str) -> None:
        """Open `url` in the tab and wait until it has loaded."""
        since = len(self.events)
        r = self.send("Page.navigate", url=url)
        assert not r.get("errorText"), (url, r)
        self.wait_for("Page.loadEventFired", since)

    def click(self, selector: str) -> None:
        """Click the first element matching the CSS `selector` with the mouse, as a person
        would (scrolled into view, pressed and released at its centre)."""
        box = self.js(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            if (!el) return null; el.scrollIntoView({{block: "center"}});
            const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        assert box, f"nothing on {self.js('location.href')} matches {selector}"
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type(self, text: str) -> None:
        """Type `text` into the focused element (as an input method commits it: Chinese
        arrives whole, not key by key)."""
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page, saved at `path`."""
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Stop Chromium (politely, then for good) and close the pipes."""
        try:
            self.send("Browser.close", session=False)
        except (AssertionError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        # the reader ends at end of file, once Chromium's last process is gone; its fd is
        # closed only then, so that no later file can take its number while it still reads
        self._reader.join(timeout=10)
        if not self._reader.is_alive():
            os.close(self._from_chrome)
        self.log.close()
