"""Console figures on the demo's data: time to first paint of every page, per role, in
Debian's Chromium; each page's serious accessibility violations (axe-core); screenshots.

Runs against a demo kept running (``spamledger demo --keep --out DIR``), or starts one and
stops it afterwards. Each page is loaded ``--loads`` times in a signed-in browser context;
the figures are the browser's own Navigation and Paint Timing entries (server response
end, DOM content loaded, first contentful paint), median and worst.

Prints and writes ``bench/CONSOLE.md`` and ``bench/console.json``; ``--screenshots DIR``
saves one full-page screenshot of each page as ``demo-PAGE.png`` (``make screenshots``
writes them to docs/console/, beside the browser tests' story screenshots)::

    .venv/bin/python -m bench.console_bench --demo /tmp/demo
    .venv/bin/python -m bench.console_bench --screenshots docs/console
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
OUT_MD = Path(__file__).with_name("CONSOLE.md")
OUT_JSON = Path(__file__).with_name("console.json")
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {response_end: nav.responseEnd, dom_loaded: nav.domContentLoadedEventEnd,
          first_paint: fcp ? fcp.startTime : null, bytes: nav.transferSize};
}"""


def pages(numbers: dict[str, str]) -> list[tuple[str, str, str]]:
    """(screenshot name, role key in console-keys.txt, path) of every page shown."""
    audited = quote(numbers.get("audited") or numbers.get("spam") or "+14155550123")
    return [("home", "regulator", "/console/"),
            ("audit", "regulator", f"/console/audit?number={audited}"),
            ("consortium", "regulator", "/console/consortium"),
            ("activity", "regulator", "/console/activity"),
            ("business", "business", "/console/business"),
            ("arbiter", "arbiter DE", "/console/arbiter"),
            ("operator", "operator US", "/console/operator"),
            ("drift", "operator US", "/console/operator/drift"),
            ("forbidden", "operator US", "/console/audit")]


def read_demo(demo: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """The demo API's URL, its console keys by role and the stories' numbers."""
    keys = {}
    if not (demo / "console-keys.txt").exists():  # a demo kept by an older version
        from spamledger._settings import load_settings
        from spamledger.demo._keys import create_console_keys

        create_console_keys(load_settings(overrides={"data_dir": demo}))
    for line in (demo / "console-keys.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            who, key = line.rsplit(" ", 1)
            keys[who.strip()] = key
    numbers_file = demo / "demo-numbers.json"
    numbers = json.loads(numbers_file.read_text()) if numbers_file.exists() else {}
    return str(numbers.get("api_url") or ""), keys, numbers


def measure(url: str, keys: dict[str, str], numbers: dict[str, str], loads: int,
            shots: Path | None) -> list[dict[str, Any]]:
    """Load every page ``loads`` times; figures, axe violations, one screenshot each."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, who, path in pages(numbers):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                _sign_in(page, url, keys[who])
                figures = []
                for _ in range(loads):
                    response = page.goto(url + path)
                    figures.append(page.evaluate(TIMING))
                status = response.status if response else 0
                # Sections fetched after first paint (audit checks, parameters) are in the
                # accessibility check and the screenshot, not in the first-paint figures.
                page.wait_for_function("() => !document.querySelector('[aria-busy=true]')",
                                       timeout=180_000)
                serious = _axe(page)
                if shots is not None:
                    page.screenshot(path=str(shots / f"demo-{name}.png"), full_page=True)
                context.close()
                rows.append(_row(name, who, path, status, figures, serious))
                print(f"{name:11} {who:12} status {status}  first paint median "
                      f"{rows[-1]['first_paint_ms']['median']:.0f} ms, worst "
                      f"{rows[-1]['first_paint_ms']['max']:.0f} ms; axe serious: "
                      f"{len(serious)}", flush=True)
        finally:
            browser.close()
    return rows


def _sign_in(page, url: str, key: str) -> None:
    page.goto(url + "/console/sign-in")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _axe(page) -> list[str]:
    page.evaluate(AXE.read_text() + "\n;0")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _row(name: str, who: str, path: str, status: int, figures: list[dict[str, Any]],
         serious: list[str]) -> dict[str, Any]:
    def stats(field: str) -> dict[str, float]:
        values = [float(f[field]) for f in figures if f.get(field) is not None]
        return {"median": statistics.median(values) if values else float("nan"),
                "max": max(values) if values else float("nan")}

    return {"page": name, "role": who, "path": path.split("?")[0], "status": status,
            "loads": len(figures), "response_end_ms": stats("response_end"),
            "dom_loaded_ms": stats("dom_loaded"), "first_paint_ms": stats("first_paint"),
            "bytes": int(statistics.median(float(f.get("bytes") or 0) for f in figures)),
            "axe_serious": serious}


def write(rows: list[dict[str, Any]], loads: int) -> None:
    meta = {"machine": f"{platform.machine()}, {platform.python_version()}",
            "loads_per_page": loads, "target_first_paint_ms": 300}
    OUT_JSON.write_text(json.dumps({"meta": meta, "pages": rows}, indent=2) + "\n")
    lines = ["# Console: first paint per page on the demo's data", "",
             "Measured by `bench/console_bench.py` in Debian's headless Chromium against a "
             "kept `spamledger demo` (one uvicorn API process, SQLite index, Anvil, js-ipfs) "
             f"on this 2-core machine shared with other work; {loads} loads per page, "
             "signed in. The audit page's checks (every signature, tally, proof and evidence "
             "CID read back from the chain and IPFS) and the consortium's on-chain "
             "parameters load after first paint and are not in these figures. "
             "Target: first paint < 300 ms.", "",
             "| page | role | status | response end ms (median / worst) | first paint ms "
             "(median / worst) | bytes | serious axe violations |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['page']} `{r['path']}` | {r['role']} | {r['status']} | "
                     f"{r['response_end_ms']['median']:.0f} / {r['response_end_ms']['max']:.0f}"
                     f" | {r['first_paint_ms']['median']:.0f} / "
                     f"{r['first_paint_ms']['max']:.0f} | {r['bytes']} | "
                     f"{', '.join(r['axe_serious']) or 'none'} |")
    within = sum(1 for r in rows if r["first_paint_ms"]["median"] < 300)
    lines += ["", f"{within} of {len(rows)} pages paint first within 300 ms (median)."]
    OUT_MD.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo", type=Path, help="data dir of a demo kept running")
    parser.add_argument("--url", help="the demo API's URL (default: from the demo dir)")
    parser.add_argument("--number", help="number to audit (default: the demo's audited one)")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--screenshots", type=Path, help="directory for page screenshots")
    args = parser.parse_args(argv)
    started = None
    demo = args.demo
    if demo is None:
        demo = Path(tempfile.mkdtemp(prefix="console-bench-")) / "demo"
        subprocess.run([sys.executable, "-m", "spamledger._cli", "demo", "--keep", "--out",
                        str(demo)], check=True, cwd=ROOT)
        started = demo
    try:
        url, keys, numbers = read_demo(demo)
        url = args.url or url
        if args.number:
            numbers["audited"] = args.number
        if not url:
            raise SystemExit(f"no api_url in {demo / 'demo-numbers.json'}; pass --url")
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
        write(measure(url, keys, numbers, args.loads, args.screenshots), args.loads)
    finally:
        if started is not None:
            subprocess.run([sys.executable, "-m", "spamledger._cli", "demo", "--out",
                            str(started), "--stop"], check=False, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
