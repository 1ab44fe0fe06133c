"""Firefox driven over WebDriver BiDi, which Firefox serves itself: no geckodriver, only a websocket client."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from toolkit.errors import StepError

# Written to the private profile's user.js; Firefox's remote agent adds its own automation preferences on top
# (no updates, no telemetry, no first-run pages). These keep the rest of it off the network.
PREFS = {
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.region.network.url": "",
}
START_TIMEOUT_S = 90


class FirefoxSession:
    """One Firefox process with one page; `call` evaluates a JS expression and awaits the promise it returns.

    Started in a process group of its own and ended by it, whatever failed on the way: a Firefox whose handshake
    failed would otherwise stay behind.
    """

    def __init__(self, executable: str, display: bool):
        import websocket  # websocket-client, an edgekit dependency

        self.profile = tempfile.mkdtemp(prefix="edgekit-firefox-")
        with open(os.path.join(self.profile, "user.js"), "w") as prefs:
            prefs.writelines(f'user_pref("{key}", {json.dumps(value)});\n' for key, value in PREFS.items())
        command = [executable, "--no-remote", "--profile", self.profile, "--remote-debugging-port=0"]
        # Firefox offers WebGL only with a display: a private Xvfb then, headless otherwise.
        if display:
            command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *command]
        else:
            command.insert(1, "--headless")
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        self.ws, self.ids, self.log = None, itertools.count(1), []
        try:
            address = self._address()
            # With the Origin header websocket-client sends by default, Firefox refuses the handshake.
            self.ws = websocket.create_connection(f"{address}/session", timeout=60, suppress_origin=True)
            session = self.command("session.new", {"capabilities": {}})
            self.version = f"Firefox {session['capabilities']['browserVersion']}"
            self.context = self.command("browsingContext.getTree", {})["contexts"][0]["context"]
        except BaseException:
            self.close()
            raise

    def _address(self) -> str:
        found, address = threading.Event(), []

        def read() -> None:
            for line in self.process.stderr:
                self.log.append(line.rstrip())
                match = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
                if match:
                    address.append(match.group(1).rstrip("/"))
                    found.set()

        threading.Thread(target=read, daemon=True, name="edgekit-firefox-log").start()
        if not found.wait(START_TIMEOUT_S):
            raise StepError("Firefox did not start its WebDriver BiDi server: " + " | ".join(self.log[-3:]))
        return address[0]

    def command(self, method: str, params: dict, timeout: float = 60):
        number = next(self.ids)
        self.ws.settimeout(timeout)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") != number:
                continue  # an event
            if message.get("type") == "error":
                raise StepError(f"Firefox {method}: {message.get('error')}: {message.get('message')}")
            return message["result"]
        raise StepError(f"Firefox {method}: no answer in {timeout:.0f} s")

    def open(self, url: str, timeout: float = 60) -> None:
        self.command("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}, timeout)

    def call(self, expression: str, timeout: float):
        params = {
            "expression": expression,
            "target": {"context": self.context},
            "awaitPromise": True,
            "resultOwnership": "none",
        }
        result = self.command("script.evaluate", params, timeout)
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise StepError(details.get("text") or json.dumps(details)[:300])
        return from_remote(result["result"])

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.command("browser.close", {}, timeout=10)
            with contextlib.suppress(Exception):
                self.ws.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def from_remote(value: dict):
    """A BiDi RemoteValue as the Python value it stands for (strings, numbers, booleans, arrays, objects)."""
    kind = value["type"]
    if kind in ("string", "boolean"):
        return value["value"]
    if kind == "number":
        number = value["value"]
        return float(number) if isinstance(number, str) else number  # "NaN", "Infinity", "-0"
    if kind in ("undefined", "null"):
        return None
    if kind == "array":
        return [from_remote(item) for item in value.get("value", [])]
    if kind == "object":
        return {key if isinstance(key, str) else from_remote(key): from_remote(v) for key, v in value.get("value", [])}
    return f"<{kind}>"
