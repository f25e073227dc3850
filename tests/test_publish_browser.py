"""The published sample store in a real browser: headless Chromium (Debian's `chromium`)
opens the site from file:// and through a web server on 127.0.0.1, searches for a Chinese
phrase, follows a complaint to its CAPA and a signature to its commit, switches language,
and takes screenshots (kept by CI as artifacts: $QMS_ARTIFACTS, else artifacts/screenshots).
On every page it visits it checks that nothing was requested from anywhere but the site,
that the page's Content-Security-Policy is enforced, and that a record value carrying
`<script>` and an `onerror=` is shown as text and never runs.

Chromium is driven over the DevTools protocol through a pipe (tests/cdp_support.py): no
driver, no extra Python package. Without Chromium the test fails under CI (CI=...) saying
what to install, and is skipped elsewhere."""

from __future__ import annotations

import base64
import http.server
import os
import threading
from functools import partial
from pathlib import Path

import pytest

from cdp_support import Browser, chromium
from conftest import QE, REPO, SALES, git

NOW = {"QMS_NOW": "2026-03-10T09:00"}
COMMIT_URL = "https://git.example.com/qa/store/-/commit/{commit}"  # no such host: never fetched
HOSTILE = "<script>window.__qms_pwned=1</script><img src=x onerror=\"window.__qms_pwned=2\"> 接头渗油"
PHRASE, FOUND = "扫码追溯", "CMP-2026-0002"  # a phrase only that sample complaint holds
COMPLAINT, CAPA = "CMP-2026-0012", "CAPA-2026-0001"  # a sample complaint and the CAPA it names
SCREENSHOTS = Path(os.environ.get("QMS_ARTIFACTS") or REPO / "artifacts" / "screenshots")


@pytest.fixture
def browser(tmp_path):
    binary = chromium()
    if binary is None:
        why = ("Chromium is missing: install Debian's chromium "
               "(apt-get install --no-install-recommends chromium; .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    b = Browser(binary, tmp_path / "chromium-profile")
    for domain in ("Page", "Network", "Runtime"):
        b.send(f"{domain}.enable")
    yield b
    b.close()


@pytest.fixture
def site(qms, sample, tmp_path):
    """The sample store published with commit links, plus one complaint whose description
    is hostile and whose acknowledgement is signed in a commit: (site, that ID, commit)."""
    config = sample / "qms.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f'publish: {{commit_url: "{COMMIT_URL}"}}\n',
                      encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "commit links")
    r = qms("complaint", "new", "--set", "customer.name=上汽大众汽车有限公司", "--set", "product.part_number=5QD 611",
            "--set", "channel=phone", "--set", "received_at=2026-03-06T10:00", "--set", "original=oral",
            "--set", f"description={HOSTILE}", "--set", "class=general", who=QE, root=sample, env=NOW)
    assert r.code == 0, r.text
    rid = r.out.strip()
    r = qms("complaint", "move", rid, "acknowledged", "--set", "contact.by=刘洋", "--set", "contact.summary=已沟通",
            "--set", "interim_countermeasure=挑选", "--set", "contact.at=2026-03-06T11:00", who=SALES, root=sample,
            env=NOW)
    assert r.code == 0, r.text
    head = git(sample, "rev-parse", "HEAD").strip()
    out = tmp_path / "site"
    r = qms("publish", str(out), root=sample, env=NOW)
    assert r.code == 0, r.text
    return out, rid, head


# What every visited page must show of itself: its Content-Security-Policy enforced (an
# inline script added to the page is refused and reported) and nothing of a record run.
CSP_PROBE = """new Promise(done => {
  document.addEventListener("securitypolicyviolation", ev => done(ev.effectiveDirective), {once: true});
  const s = document.createElement("script");
  s.textContent = "window.__qms_csp_broken = 1";
  document.head.appendChild(s);
  setTimeout(() => done(window.__qms_csp_broken ? "ran" : "no report"), 2000);
})"""


def check_page(b: Browser) -> None:
    url = b.js("location.href")
    assert b.js("typeof window.__qms_pwned") == "undefined", url
    assert b.js("document.querySelectorAll('script:not([src]), img[src=x], [onerror]').length") == 0, url
    assert b.js(CSP_PROBE) == "script-src-elem", url
    assert b.js("typeof window.__qms_csp_broken") == "undefined", url


def follow(b: Browser, selector: str) -> str:
    """Click the link `selector` and wait for the page it leads to; that page's URL."""
    since = len(b.events)
    b.click(selector)
    b.wait_for("Page.loadEventFired", since)
    check_page(b)
    return b.js("location.href")


def shoot(b: Browser, name: str) -> None:
    path = b.screenshot(SCREENSHOTS / f"{name}.png")
    assert path.stat().st_size > 5000, path  # a blank page is a few hundred bytes


def requests(b: Browser) -> list[str]:
    return [ev["params"]["request"]["url"] for ev in b.events if ev.get("method") == "Network.requestWillBeSent"]


def offsite(b: Browser, base: str) -> list[str]:
    """The requests so far for anything not under `base`."""
    return [u for u in requests(b) if not u.startswith(base)]


def search(b: Browser, base: str, lang: str, phrase: str) -> list[str]:
    """Type `phrase` into the search page's box; the IDs it lists."""
    b.navigate(f"{base}{lang}/search.html")
    check_page(b)
    b.click("#qms-search-box")
    b.type(phrase)
    return b.js("[...document.querySelectorAll('#qms-search-results a')].map(a => a.textContent)")


def test_the_site_from_file_searches_links_switches_language_and_runs_nothing_from_a_record(browser, site):
    out, rid, head = site
    b = browser
    base = out.as_uri() + "/"

    b.navigate(base + "index.html")
    check_page(b)
    assert b.js("document.documentElement.lang") == "zh-CN"
    shoot(b, "file-home")

    found = search(b, base, "zh", PHRASE)
    assert FOUND in found, found
    shoot(b, "file-search-zh")
    assert search(b, base, "zh", "渗压") == []  # both characters are in the store, never side by side
    found = search(b, base, "zh", PHRASE)
    assert follow(b, f'#qms-search-results a[href$="{FOUND}.html"]') == f"{base}zh/complaint/{FOUND}.html"
    assert PHRASE in b.js("document.body.innerText")

    b.navigate(f"{base}zh/complaint/{COMPLAINT}.html")
    check_page(b)
    shoot(b, "file-complaint-zh")
    assert follow(b, f'a[href="../capa/{CAPA}.html"]') == f"{base}zh/capa/{CAPA}.html"
    assert CAPA in b.js("document.body.innerText")
    shoot(b, "file-capa-zh")
    assert follow(b, 'a[hreflang="en"]') == f"{base}en/capa/{CAPA}.html"
    assert b.js("document.documentElement.lang") == "en"
    assert "Related records" in b.js("document.body.innerText")
    shoot(b, "file-capa-en")
    assert follow(b, f'a[href="../complaint/{COMPLAINT}.html"]') == f"{base}en/complaint/{COMPLAINT}.html"
    assert follow(b, 'a[hreflang="zh"]') == f"{base}zh/complaint/{COMPLAINT}.html"

    b.navigate(f"{base}zh/complaint/{rid}.html")
    check_page(b)
    text = b.js("document.body.innerText")
    assert "<script>window.__qms_pwned=1</script>" in text and 'onerror="window.__qms_pwned=2"' in text
    links = b.js("[...document.querySelectorAll('a[href*=\"git.example.com\"]')].map(a => a.href)")
    assert links == [COMMIT_URL.format(commit=head)], links
    shoot(b, "file-hostile-zh")

    # Nothing so far reached beyond the site's folder, on any page.
    assert requests(b) and not offsite(b, base), offsite(b, base)

    # Following the commit link leads to the configured page of that very commit. The test
    # answers in place of the git server (git.example.com does not exist): nothing leaves.
    b.send("Fetch.enable", patterns=[{"urlPattern": "https://git.example.com/*"}])
    since = len(b.events)
    b.click('a[href*="git.example.com"]')
    paused = b.wait_for("Fetch.requestPaused", since)
    assert paused["request"]["url"] == COMMIT_URL.format(commit=head)
    b.send("Fetch.fulfillRequest", requestId=paused["requestId"], responseCode=200,
           responseHeaders=[{"name": "Content-Type", "value": "text/html"}],
           body=base64.b64encode(f"<h1>commit {head}</h1>".encode()).decode())
    b.wait_for("Page.loadEventFired", since)
    assert b.js("location.href") == COMMIT_URL.format(commit=head)
    # Chromium then asks that host for its favicon: Fetch holds that request too, unanswered.
    # Every request beyond the site is one that Fetch held (its event may come a moment later).
    for url in set(offsite(b, base)):
        b.wait_for("Fetch.requestPaused", since, lambda p, url=url: p["request"]["url"] == url, timeout=5,
                   why=f"{url} was requested and not held")

def test_the_site_through_a_web_server_on_localhost(browser, site):
    out, rid, _ = site
    b = browser
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *a: None
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            b.navigate(base + "index.html")
            check_page(b)
            found = search(b, base, "en", PHRASE)
            assert FOUND in found, found
            shoot(b, "http-search-en")
            b.navigate(f"{base}en/complaint/{COMPLAINT}.html")
            check_page(b)
            assert follow(b, f'a[href="../capa/{CAPA}.html"]') == f"{base}en/capa/{CAPA}.html"
            b.navigate(f"{base}en/complaint/{rid}.html")
            check_page(b)
            assert "<script>window.__qms_pwned=1</script>" in b.js("document.body.innerText")
            shoot(b, "http-hostile-en")
        finally:
            server.shutdown()
    assert requests(b) and not offsite(b, base), offsite(b, base)
