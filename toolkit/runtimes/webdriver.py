"""WebKitGTK (Safari's engine family) driven through WebKitWebDriver, a W3C WebDriver server, on a private Xvfb."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from toolkit.errors import StepError

START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebKitSession:
    """WebKitWebDriver and the MiniBrowser it starts, under `xvfb-run` (MiniBrowser needs a display), in a process
    group of their own that `close` ends; `call` evaluates a JS expression and awaits the promise it returns."""

    def __init__(self, minibrowser: str):
        port = _free_port()
        self.base, self.id = f"http://127.0.0.1:{port}", None
        command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", "WebKitWebDriver", f"--port={port}"]
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty driver never blocks on it
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True)
        try:
            self._wait_for_driver()
            options = {"binary": minibrowser, "args": ["--automation"]}
            capabilities = {"browserName": "MiniBrowser", "webkitgtk:browserOptions": options}
            value = self._request("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
            self.id = value["sessionId"]
            self.version = f"WebKitGTK {value['capabilities'].get('browserVersion', '')}".strip()
        except BaseException:
            self.close()
            raise

    def _wait_for_driver(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/status", timeout=2):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    self.log.seek(0)
                    detail = self.log.read().decode(errors="replace").strip()[-300:]
                    raise StepError(f"WebKitWebDriver did not start: {detail or 'no output'}") from None
                time.sleep(0.1)

    def _request(self, method: str, path: str, body: dict | None = None, timeout: float = 60):
        data = json.dumps(body or {}).encode() if method == "POST" else None
        headers = {"Content-Type": "application/json; charset=utf-8"}
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            value = json.loads(error.read() or b"{}").get("value", {})
            raise StepError(f"WebKit {value.get('error', error.code)}: {value.get('message', '')}") from None
        except TimeoutError:
            raise StepError(f"WebKit: no answer in {timeout:.0f} s") from None

    def open(self, url: str, timeout: float = 60) -> None:
        self._request("POST", f"/session/{self.id}/url", {"url": url}, timeout)

    def call(self, expression: str, timeout: float):
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({expression})).then((value) => done({{ok: value}}),"
            " (error) => done({error: String(error && error.message || error)}));"
        )
        self._request("POST", f"/session/{self.id}/timeouts", {"script": int(timeout * 1000)})
        body = {"script": script, "args": []}
        result = self._request("POST", f"/session/{self.id}/execute/async", body, timeout + 10)
        if "error" in result:
            raise StepError(result["error"])
        return result["ok"]

    def close(self) -> None:
        if self.id is not None:
            with contextlib.suppress(Exception):
                self._request("DELETE", f"/session/{self.id}", timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)  # xvfb-run, Xvfb, the driver and its browser
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self.log.close()
