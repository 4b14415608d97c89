"""Open a report in headless Chromium (/usr/bin/chromium) and measure what a reader sees.

``visible_boxes`` copies the report, adds one script (the report itself has none) that, after layout, scrolls to
each selector's element and records its bounding box, its computed visibility, whether the element Chromium hit-tests
at its centre is the element or inside it (so nothing covers it), and whether it fits the page's width. It also
records, per chart, the boxes of the x-axis labels, so a test can check that no two overlap. ``--dump-dom`` prints
the page after the script ran; the measurements are read back from a ``<pre id="measured">``. A ``--screenshot`` of
the same page is written next to it, for a person to look at when a test fails.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=0"]

MEASURE = """
<script>
(function () {
  var out = {elements: {}, labels: [], width: document.documentElement.clientWidth};
  SELECTORS.forEach(function (selector) {
    var el = document.querySelector(selector);
    if (!el) { out.elements[selector] = null; return; }
    el.scrollIntoView({block: "center"});
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    var hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, 5));
    out.elements[selector] = {width: r.width, height: r.height, left: r.left, right: r.right,
      visible: s.visibility !== "hidden" && s.display !== "none" && parseFloat(s.opacity) > 0,
      on_top: !!hit && (hit === el || el.contains(hit)), text: (el.textContent || "").slice(0, 200)};
  });
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var boxes = [];
    svg.querySelectorAll("text.xlabel").forEach(function (t) {
      var r = t.getBoundingClientRect(); boxes.push([r.left, r.right]);
    });
    out.labels.push(boxes);
  });
  window.scrollTo(0, 0);
  var pre = document.createElement("pre"); pre.id = "measured"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def run_chromium(url: str, profile: Path, *extra: str, timeout: int = 120) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra, url]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line
            or ":CONSOLE(" in line]


def visible_boxes(html_path: Path, selectors: list[str], work: Path, width: int = 1280,
                  height: int = 900) -> dict[str, Any]:
    """The measurements above, plus ``stderr`` and ``screenshot`` (a PNG of the top of the page)."""
    work.mkdir(parents=True, exist_ok=True)
    html = html_path.read_text(encoding="utf-8")
    probe = work / "measured.html"
    script = MEASURE.replace("SELECTORS", json.dumps(selectors))
    probe.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    size = f"--window-size={width},{height}"
    dumped = run_chromium(probe.as_uri(), work / "profile-dom", size, "--dump-dom")
    match = re.search(r'<pre id="measured">(.*?)</pre>', dumped.stdout, re.S)
    if dumped.returncode != 0 or not match:
        raise AssertionError(f"Chromium did not measure the page: {dumped.returncode} {dumped.stderr[-2000:]}")
    from html import unescape

    measured = json.loads(unescape(match.group(1)))
    screenshot = work / "report.png"
    shot = run_chromium(html_path.as_uri(), work / "profile-shot", size, f"--screenshot={screenshot}")
    measured["stderr"] = dumped.stderr + shot.stderr
    measured["screenshot"] = screenshot if screenshot.exists() else None
    return measured
