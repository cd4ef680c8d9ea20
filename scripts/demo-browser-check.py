#!/usr/bin/env python3
"""Drives the demo page in headless Chromium, as a person would: pick a user, pick a picture, press
Start, wait (with a deadline) until the page shows the final status, check the result image loaded,
and save a screenshot. Talks the DevTools protocol over --remote-debugging-pipe (file descriptors
3 and 4, NUL-separated JSON), so it needs nothing beyond Python's standard library.

usage: demo-browser-check.py URL SCREENSHOT.png [--user 1] [--picture 1] [--expect SUCCEEDED] [--timeout 60]
Prints one JSON line with what the page showed; exit 0 when the page reached the expected status.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, width, height):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if not binary:
            sys.exit("chromium is not installed (scripts/setup.sh installs it)")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="outpainting-chromium-")
        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            pass_fds=(3, 4), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: self._child_fds(to_browser_r, from_browser_w))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.session = None

    @staticmethod
    def _child_fds(commands, answers):
        # Chromium reads commands on fd 3 and writes answers on fd 4: copy both away first so that
        # neither dup2 can overwrite the other's source.
        a, b = os.dup(commands), os.dup(answers)
        os.dup2(a, 3)
        os.dup2(b, 4)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise RuntimeError(f"{method}: no answer within 30 s")

    def open(self, url):
        target = self.send("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails'].get('text')}: {expression}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}")

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("screenshot")
    parser.add_argument("--user", type=int, default=1)
    parser.add_argument("--picture", type=int, default=1)
    parser.add_argument("--expect", default="SUCCEEDED")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--expect-error", default=None, help="instead of a status: the page must show an error containing this")
    args = parser.parse_args()

    browser = Browser(1100, 1500)
    report = {"url": args.url}
    try:
        browser.open(args.url)
        browser.wait_for("document.readyState === 'complete' && !!document.querySelector('[data-user]')", 20, "the page")
        # A person's clicks: the user, the picture, a ratio, then Start.
        browser.evaluate(f"document.querySelector('[data-user=\"{args.user}\"]').click()")
        browser.wait_for("document.querySelector('#login-status').textContent.startsWith('Logged in')", 20, "the login")
        browser.evaluate(f"document.querySelector('[data-picture=\"{args.picture}\"]').click()")
        browser.evaluate("const s = document.querySelector('select[name=outputRatio]'); s.value = '16:9'; s.dispatchEvent(new Event('change'))")
        browser.evaluate("document.querySelector('#start').click()")
        final = ["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]
        report["statuses_seen"] = []
        deadline = time.monotonic() + args.timeout
        status = ""
        while time.monotonic() < deadline:
            status = browser.evaluate("document.querySelector('#task-status').dataset.status") or ""
            error = browser.evaluate("document.querySelector('#error').hidden ? '' : document.querySelector('#error').textContent")
            if status and (not report["statuses_seen"] or report["statuses_seen"][-1] != status):
                report["statuses_seen"].append(status)
            if status in final or (error and not status):
                report["error"] = error
                break
            time.sleep(0.2)
        report["status"] = status
        report["status_text"] = browser.evaluate("document.querySelector('#task-status').textContent")
        if status == "SUCCEEDED":
            report["result_image_loaded"] = bool(browser.wait_for(
                "(() => { const i = document.querySelector('#after'); return i.complete && i.naturalWidth > 0 && !document.querySelector('#after-figure').hidden })()",
                20, "the result image"))
            report["result_image_size"] = browser.evaluate("[document.querySelector('#after').naturalWidth, document.querySelector('#after').naturalHeight]")
        browser.screenshot(args.screenshot)
        report["screenshot"] = args.screenshot
    finally:
        browser.close()
    print(json.dumps(report))
    if args.expect_error is not None:
        ok = not report.get("status") and args.expect_error in (report.get("error") or "")
    else:
        ok = report.get("status") == args.expect and (args.expect != "SUCCEEDED" or report.get("result_image_loaded"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
