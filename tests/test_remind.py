"""`qms remind` (issue 15) through the real CLI on a copy of the sample store, as of
2026-12-07 09:00 (see test_aftersales.py and test_reports_loop.py for what is overdue then):
complaints past their time limits (the quality manager closes them), a CAPA action of 赵敏's,
a service's on-site visit (the service engineers), a loan not returned, a document review.

Sent for real: a local SMTP server (aiosmtpd) receives the mail; a local HTTP server plays
the WeCom, DingTalk and Feishu robots and checks their payloads and signatures. A server that
refuses and one that does not answer in time each make the run exit 1 with the reason, and
nothing is recorded as sent. Secrets are read from the environment only, and never printed."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import git

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

NOW = {"QMS_NOW": "2026-12-07T09:00"}
TOKEN = "tok-3f9a1c"  # in the robot's URL: a secret
SECRET = "SECb7e2d4"  # DingTalk's / Feishu's signing secret


def configure(root: Path, block: str) -> None:
    """Add a remind: block to the store's qms.yaml and commit it."""
    path = root / "qms.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")
    git(root, "add", "qms.yaml")
    git(root, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "remind settings")


def state_file(root: Path) -> Path:
    return root / ".git" / "qms-remind.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- standard output ----------------------------------------------------------------------------
def test_stdout_groups_by_person_and_role(qms, sample):
    r = qms("--lang", "en", "remind", root=sample, env=NOW)
    assert r.code == 0, r.text
    sections = {s.splitlines()[0]: s for s in r.out.split("\n## ")[1:]}
    manager = next(s for h, s in sections.items() if h.startswith("Quality manager: 王强 <wang.qiang@example.com>"))
    assert "CMP-2026-0011 Closure: due 2026-10-09 23:59, 58 days overdue; see `qms complaint show CMP-2026-0011`" \
        in manager
    owner = next(s for h, s in sections.items() if h.startswith("赵敏 <zhao.min@example.com> · Quality engineer"))
    assert "CAPA-2026-0003 CAPA action" in owner and "qms capa show CAPA-2026-0003" in owner
    engineers = next(s for h, s in sections.items() if h.startswith("Service engineer: 黄磊"))
    assert "SVC-2026-0003 On site: due 2026-12-04 10:00, 2 days overdue" in engineers
    controller = next(s for h, s in sections.items() if h.startswith("Document controller: 赵敏"))
    assert "LN-2026-0002 Return" in controller and "LX-CX-2024-005 Periodic review" in controller
    # a visit planned for 12-10 is due in 3 days: outside the default 2 working days, inside 3wd
    assert "VIS-2026-0005" not in r.out
    wider = qms("--lang", "en", "remind", "--within", "3wd", root=sample, env=NOW)
    assert "VIS-2026-0005 Visited as planned: due 2026-12-10 23:59, due in 3 days" in wider.out
    # each item once: a complaint's closure goes to the role that closes it, not to every role
    assert r.out.count("CMP-2026-0011 Closure") == 1


def test_json_and_chinese(qms, sample):
    r = qms("--json", "remind", root=sample, env=NOW)
    assert r.code == 0, r.text
    data = json.loads(r.out)
    roles = {g["role"] for g in data["groups"] if g["person"] is None}
    assert {"quality_manager", "service_engineer", "document_controller"} <= roles
    capa = next(g for g in data["groups"] if g["person"] == "赵敏")
    assert capa["email"] == "zhao.min@example.com"
    assert capa["items"][0]["command"] == "qms capa show CAPA-2026-0003"
    assert data["overdue"] > 10
    zh = qms("--lang", "zh", "remind", root=sample, env=NOW)
    assert "## 质量部经理: 王强" in zh.out and "CMP-2026-0011 异常闭环" in zh.out


@pytest.mark.parametrize("args,expected", [
    (("--to", "fax"), "--to fax"),
    (("--within", "soon"), "--within"),
    (("--to", "email"), "remind.email"),
    (("--to", "webhook"), "remind.webhook"),
])
def test_bad_input_exits_2(qms, sample, args, expected):
    r = qms("--lang", "en", "remind", *args, root=sample, env=NOW)
    assert r.code == 2, r.text
    assert expected in r.err and "Traceback" not in r.text
    assert not state_file(sample).exists()


def test_bad_settings_are_refused(qms, sample):
    configure(sample, "remind: {within: 2wd, webhook: {kind: slack, url_env: X}}\n")
    r = qms("--lang", "en", "remind", root=sample, env=NOW)
    assert r.code == 2 and "remind.webhook.kind" in r.err
    (sample / "qms.yaml").write_text((sample / "qms.yaml").read_text(encoding="utf-8").replace(
        "kind: slack, url_env: X", "kind: wecom, url_env: X, token: abc"), encoding="utf-8")
    r = qms("--lang", "en", "remind", root=sample, env=NOW)
    assert r.code == 2 and "remind.webhook.token" in r.err


def test_missing_environment_variable_exits_2(qms, sample):
    configure(sample, "remind: {webhook: {kind: wecom, url_env: QMS_TEST_WEBHOOK_URL}}\n")
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=NOW)
    assert r.code == 2 and "QMS_TEST_WEBHOOK_URL" in r.err and "not set" in r.err


# -- e-mail ------------------------------------------------------------------------------------
class Inbox:
    """An aiosmtpd handler that keeps what it receives; with `refuse`, every recipient is
    refused (550)."""

    def __init__(self, refuse: bool = False):
        self.refuse = refuse
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    servers = []

    def start(refuse: bool = False):
        inbox = Inbox(refuse)
        port = free_port()
        controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return inbox, port

    yield start
    for c in servers:
        c.stop()


def email_settings(port: int) -> str:
    return (f"remind:\n  timeout: 5\n  email:\n    host: 127.0.0.1\n    port: {port}\n"
            "    from: qms@example.com\n    to: [quality@example.com]\n    to_holders: true\n")


def test_email_is_received_once_a_day(qms, sample, smtp):
    inbox, port = smtp()
    configure(sample, email_settings(port))
    dry = qms("--lang", "en", "remind", "--to", "email", "--dry-run", root=sample, env=NOW)
    assert dry.code == 0, dry.text
    assert "dry run: would send to quality@example.com, " in dry.out and "Subject: [qms]" in dry.out
    assert inbox.received == [] and not state_file(sample).exists()

    r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    assert r.code == 0, r.text
    assert "sent to quality@example.com" in r.out
    [(sender, rcpts, raw)] = inbox.received
    assert sender == "qms@example.com"
    assert rcpts[0] == "quality@example.com" and "wang.qiang@example.com" in rcpts and "zhao.min@example.com" in rcpts
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"].startswith("[qms] Due and overdue on 2026-12-07: ")
    body = msg.get_content()
    assert "## Quality manager: 王强 <wang.qiang@example.com>" in body
    assert "qms complaint show CMP-2026-0011" in body and "立信汽车部件股份有限公司" in body
    assert json.loads(state_file(sample).read_text(encoding="utf-8"))["email"]["day"] == "2026-12-07"
    assert "qms-remind" not in git(sample, "status", "--porcelain")

    again = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    assert again.code == 0 and "already sent" in again.out
    assert len(inbox.received) == 1
    forced = qms("--lang", "en", "remind", "--to", "email", "--force", root=sample, env=NOW)
    assert forced.code == 0 and len(inbox.received) == 2
    tomorrow = qms("--lang", "en", "remind", "--to", "email", root=sample, env={"QMS_NOW": "2026-12-08T08:00"})
    assert tomorrow.code == 0 and "sent to" in tomorrow.out and len(inbox.received) == 3


def test_refused_email_exits_1_and_records_nothing(qms, sample, smtp):
    inbox, port = smtp(refuse=True)
    configure(sample, email_settings(port))
    r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    assert r.code == 1, r.text
    [line] = r.err.strip().splitlines()
    assert "e-mail not sent" in line and "550" in line
    assert inbox.received == [] and not state_file(sample).exists()


def test_no_mail_server_exits_1(qms, sample):
    configure(sample, email_settings(free_port()))
    r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    assert r.code == 1 and "e-mail not sent" in r.err and not state_file(sample).exists()


# -- group robots ------------------------------------------------------------------------------
class Robot:
    """A local HTTP server playing a group robot: keeps each request (path, query, JSON
    body); answers `reply`, or sleeps `delay` seconds first."""

    def __init__(self, reply: dict | None = None, delay: float = 0.0):
        self.requests: list[tuple[str, dict, dict]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                parts = urllib.parse.urlsplit(self.path)
                if delay:
                    time.sleep(delay)
                robot.requests.append((parts.path, dict(urllib.parse.parse_qsl(parts.query)),
                                       json.loads(body.decode("utf-8"))))
                answer = json.dumps(reply if reply is not None else {"errcode": 0, "errmsg": "ok"}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token={TOKEN}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def robot():
    robots = []

    def start(**kwargs) -> Robot:
        robots.append(Robot(**kwargs))
        return robots[-1]

    yield start
    for r in robots:
        r.stop()


def webhook_settings(kind: str, timeout: float = 5) -> str:
    return (f"remind:\n  timeout: {timeout}\n  webhook:\n    kind: {kind}\n    url_env: QMS_TEST_WEBHOOK_URL\n"
            "    secret_env: QMS_TEST_ROBOT_SECRET\n")


@pytest.mark.parametrize("kind", ["wecom", "dingtalk", "feishu"])
def test_webhook_payload_and_signature(qms, sample, robot, kind):
    bot = robot()
    configure(sample, webhook_settings(kind))
    env = {**NOW, "QMS_TEST_WEBHOOK_URL": bot.url, "QMS_TEST_ROBOT_SECRET": SECRET}
    dry = qms("--lang", "en", "remind", "--to", "webhook", "--dry-run", root=sample, env=env)
    assert dry.code == 0 and bot.requests == []
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=env)
    assert r.code == 0, r.text
    [(path, query, body)] = bot.requests
    assert path == "/robot/send" and query["access_token"] == TOKEN
    if kind == "wecom":
        assert body["msgtype"] == "markdown"
        text = body["markdown"]["content"]
    elif kind == "dingtalk":
        assert body["msgtype"] == "markdown" and body["markdown"]["title"].startswith("Due and overdue")
        text = body["markdown"]["text"]
        stamp = query["timestamp"]
        assert abs(int(stamp) - time.time() * 1000) < 60_000  # milliseconds
        expected = base64.b64encode(hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        assert query["sign"] == expected  # parse_qsl undid the URL encoding
    else:
        assert body["msg_type"] == "text"
        text = body["content"]["text"]
        stamp = body["timestamp"]
        assert abs(int(stamp) - time.time()) < 60  # seconds
        expected = base64.b64encode(hmac.new(f"{stamp}\n{SECRET}".encode(), b"", hashlib.sha256).digest()).decode()
        assert body["sign"] == expected
    assert "## Quality manager: 王强" in text and "qms complaint show CMP-2026-0011" in text
    for out in (r.text, dry.text):
        assert TOKEN not in out and SECRET not in out
    assert TOKEN not in state_file(sample).read_text(encoding="utf-8")
    found = subprocess.run(["git", "grep", "-I", "-e", TOKEN, "-e", SECRET], cwd=sample, capture_output=True)
    assert found.returncode == 1 and found.stdout == b""  # never in the store's files
    again = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=env)
    assert again.code == 0 and "already sent" in again.out and len(bot.requests) == 1


def test_robot_error_exits_1(qms, sample, robot):
    bot = robot(reply={"errcode": 310000, "errmsg": "sign not match"})
    configure(sample, webhook_settings("dingtalk"))
    env = {**NOW, "QMS_TEST_WEBHOOK_URL": bot.url, "QMS_TEST_ROBOT_SECRET": SECRET}
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=env)
    assert r.code == 1, r.text
    [line] = r.err.strip().splitlines()
    assert "310000" in line and "sign not match" in line and TOKEN not in line
    assert not state_file(sample).exists()


def test_robot_that_does_not_answer_in_time_exits_1(qms, sample, robot):
    bot = robot(delay=2.0)
    configure(sample, webhook_settings("wecom", timeout=0.3))
    env = {**NOW, "QMS_TEST_WEBHOOK_URL": bot.url, "QMS_TEST_ROBOT_SECRET": SECRET}
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=env)
    assert r.code == 1, r.text
    [line] = r.err.strip().splitlines()
    assert "did not answer within 0.3 s" in line and TOKEN not in line
    assert not state_file(sample).exists()


# -- a store that is not to be trusted ------------------------------------------------------------
@pytest.mark.parametrize("block, field", [
    # another secret of the user's named as the robot's URL or the mail password
    ("remind: {webhook: {kind: wecom, url_env: AWS_SECRET_ACCESS_KEY}}\n", "remind.webhook.url_env"),
    ("remind: {email: {host: h.example, from: a@b.c, to: [x@y.z], user_env: QMS_U, password_env: GITHUB_TOKEN}}\n",
     "remind.email.password_env"),
    # an address or subject that would add a mail header
    ('remind: {email: {host: h.example, from: a@b.c, to: ["x@y.z\\nBcc: evil@z.z"]}}\n', "remind.email.to"),
    ('remind: {email: {host: h.example, from: a@b.c, to: [x@y.z], subject: "a\\nBcc: evil@z.z"}}\n',
     "remind.email.subject"),
])
def test_a_store_cannot_name_another_secret_or_add_a_header(qms, sample, block, field):
    configure(sample, block)
    r = qms("--lang", "en", "remind", root=sample, env=NOW)
    assert r.code == 2 and field in r.err and "Traceback" not in r.err, r.text


def test_a_subject_is_text_not_a_format_string(qms, sample, smtp):
    inbox, port = smtp()
    configure(sample, email_settings(port).replace("    to_holders: true\n",
                                                   "    subject: '{title:>3000000000} {0} [{title}]'\n"))
    r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    assert r.code == 0, r.text
    [(_sender, _rcpts, raw)] = inbox.received
    assert b"{title:>3000000000} {0} [" in raw


def test_a_password_goes_only_over_an_encrypted_connection(qms, sample, smtp):
    _inbox, port = smtp()
    configure(sample, email_settings(port) + "    user_env: QMS_TEST_SMTP_USER\n    password_env: QMS_TEST_SMTP_PASSWORD\n")
    r = qms("--lang", "en", "remind", "--to", "email", root=sample,
            env={**NOW, "QMS_TEST_SMTP_USER": "u", "QMS_TEST_SMTP_PASSWORD": "secret-value"})
    assert r.code == 2 and "encrypted" in r.err and "secret-value" not in r.out + r.err, r.text


def test_a_robot_url_that_is_not_one_is_not_printed(qms, sample):
    configure(sample, "remind: {webhook: {kind: wecom, url_env: QMS_TEST_WEBHOOK_URL}}\n")
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample,
            env={**NOW, "QMS_TEST_WEBHOOK_URL": "not-a-url-but-a-secret-token"})
    assert r.code == 2 and "QMS_TEST_WEBHOOK_URL" in r.err and "secret-token" not in r.out + r.err, r.text


def test_a_dingtalk_url_with_a_fragment_is_signed_in_its_query(qms, sample, robot):
    """A robot URL pasted with a #fragment: the signature goes into the query, before it
    (appended after the fragment, it never reached the robot)."""
    bot = robot()
    configure(sample, webhook_settings("dingtalk"))
    env = {**NOW, "QMS_TEST_WEBHOOK_URL": bot.url + "#copied", "QMS_TEST_ROBOT_SECRET": SECRET}
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env=env)
    assert r.code == 0, r.text
    [(_path, query, _body)] = bot.requests
    assert query["access_token"] == TOKEN and "sign" in query and "timestamp" in query, query


@pytest.mark.parametrize("pinned, says", [
    (None, "the login is sent only to the server the environment names too: set QMS_SMTP_HOST=127.0.0.1"),
    ("smtp.example.com", "qms.yaml names the server 127.0.0.1, but QMS_SMTP_HOST names smtp.example.com"),
])
def test_a_login_goes_only_to_the_server_the_environment_names(qms, sample, smtp, pinned, says):
    """qms.yaml comes with the store: a merge request that points remind.email.host at its
    own server must not receive the password the CI job holds. The login is sent only where
    QMS_SMTP_HOST, set beside the password, names the same server; nothing is sent otherwise."""
    inbox, port = smtp()
    configure(sample, email_settings(port) + "    starttls: true\n    user_env: QMS_TEST_SMTP_USER\n"
                                             "    password_env: QMS_TEST_SMTP_PASSWORD\n")
    env = {**NOW, "QMS_TEST_SMTP_USER": "u", "QMS_TEST_SMTP_PASSWORD": "secret-value"}
    if pinned is not None:
        env["QMS_SMTP_HOST"] = pinned
    r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=env)
    assert r.code == 2 and says in " ".join(r.err.split()), r.text
    assert "secret-value" not in r.out + r.err and inbox.received == []
