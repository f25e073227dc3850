"""`qms remind` as a user making mistakes and as someone handed a store they did not write
(a review): robot URLs urllib cannot send to, servers that do not answer as a robot does,
record values that try to write Markdown into a group's message, messages longer than a
robot takes, two runs at once. Through the real CLI on a copy of the sample store, as of
2026-12-07 09:00 (see test_remind.py); servers are local sockets."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import git
from test_remind import configure, state_file

NOW = {"QMS_NOW": "2026-12-07T09:00"}
TOKEN = "tok-5d1e7a"  # in the robot's URL: a secret




def webhook(kind: str = "dingtalk", timeout: float = 5) -> str:
    return f"remind:\n  timeout: {timeout}\n  webhook:\n    kind: {kind}\n    url_env: QMS_TEST_WEBHOOK_URL\n"


class RawServer:
    """A TCP server on 127.0.0.1 that reads a request and answers `answer(port, request)`
    bytes as they are (HTTP or not), keeping every request it read."""

    def __init__(self, answer):
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(65536) or b"!"
                    head, _sep, body = data.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(body) < length:
                        body += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + body)
                    conn.sendall(self.answer(self.port, head))
                except OSError:
                    pass

    def url(self, path: str = "/robot/send") -> str:
        return f"http://127.0.0.1:{self.port}{path}?access_token={TOKEN}"

    def close(self):
        self.sock.close()


def http(body: bytes, status: str = "200 OK", length: int | None = None, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n").encode() + body


@pytest.fixture
def server():
    servers = []

    def start(answer) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


# -- the robot's URL ---------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "http://" + "a" * 70 + ".example.com/robot/send?access_token=" + TOKEN,  # a DNS label > 63
    "https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN + " ",  # a space pasted with it
    "https://oapi.dingtalk.com/robot/send?access_token=" + TOKEN + "\t",
    "https://oapi.dingtalk.com:abc/robot/send?access_token=" + TOKEN,  # a port that is no number
    "https://oapi.dingtalk.com:99999/robot/send?access_token=" + TOKEN,
    "https://oapi%00.dingtalk.com/robot/send?access_token=" + TOKEN,
])
def test_a_robot_url_urllib_cannot_send_to_is_refused_and_not_shown(qms, sample, url):
    configure(sample, webhook())
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env={**NOW, "QMS_TEST_WEBHOOK_URL": url})
    assert r.code == 2, r.text
    assert "QMS_TEST_WEBHOOK_URL does not hold an http(s) URL" in r.err
    assert TOKEN not in r.out + r.err and "internal error" not in r.err
    assert not state_file(sample).exists()


# -- what the server answers --------------------------------------------------------------------
@pytest.mark.parametrize("answer, says", [
    (lambda port, head: b"SMTP READY\r\n\r\n", "gave no valid HTTP answer"),  # not HTTP at all
    (lambda port, head: http(b"<html>please log in</html>"), "did not answer as the robot does"),  # a proxy
    (lambda port, head: http(b"[0]"), "did not answer as the robot does"),
    (lambda port, head: http(b'{"errcode": 0', length=400), "did not answer as the robot does"),  # cut short
])
def test_an_answer_that_is_not_the_robots_is_a_failed_send(qms, sample, server, answer, says):
    srv = server(answer)
    configure(sample, webhook())
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample,
            env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 1, r.text
    [line] = r.err.strip().splitlines()
    assert says in line and TOKEN not in line, line
    assert len(srv.requests) == 1 and not state_file(sample).exists()


def test_a_redirect_is_an_answer_not_followed(qms, sample, server):
    # urllib followed a 302 with a GET without the message, and took the next page's
    # {"errcode": 0} as sent
    def answer(port, head):
        if head.startswith(b"POST /robot/send"):
            return http(b"", "302 Found", extra=f"Location: http://127.0.0.1:{port}/moved\r\n")
        return http(b'{"errcode": 0, "errmsg": "ok"}')

    srv = server(answer)
    configure(sample, webhook("wecom"))
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample,
            env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 1 and "answered HTTP 302" in r.err, r.text
    assert [q.split(b" ")[1].split(b"?")[0] for q in srv.requests] == [b"/robot/send"]
    assert not state_file(sample).exists()


# -- the mail server ----------------------------------------------------------------------------
@pytest.mark.parametrize("host", [
    "a" * 64 + ".example.com",  # socket's IDNA codec raised UnicodeError: an internal error
    "smtp..example.com",
    '"smtp.example.com\\nRCPT TO: x@evil.example"',
    "'smtp.example.com:25'",
    "'smtp.example.com/x'",
    "'-smtp.example.com'",
])
def test_a_mail_server_that_is_no_host_name_is_refused_in_qms_yaml(qms, sample, host):
    configure(sample, f"remind: {{email: {{host: {host}, from: qms@example.com, to: [quality@example.com]}}}}\n")
    for args in ((), ("--to", "email")):
        r = qms("--lang", "en", "remind", *args, root=sample, env=NOW)
        assert r.code == 2 and "qms.yaml: remind.email.host: expected the mail server's name" in r.err, r.text


@pytest.mark.parametrize("host", ["邮件.example.cn", "127.0.0.1", "'::1'", "smtp_relay.example.com."])
def test_a_mail_server_by_chinese_name_or_address_is_taken(qms, sample, host):
    configure(sample, f"remind: {{email: {{host: {host}, from: qms@example.com, to: [quality@example.com]}}}}\n")
    r = qms("--lang", "en", "remind", "--to", "email", "--dry-run", root=sample, env=NOW)
    assert r.code == 0 and "dry run: would send to quality@example.com" in r.out, r.text


# -- what a record's text can do in a group's message ----------------------------------------------
def sent_text(request: bytes) -> str:
    body = json.loads(request.partition(b"\r\n\r\n")[2].decode("utf-8"))
    return body["markdown"]["content"] if "markdown" in body and "content" in body["markdown"] else \
        body["markdown"]["text"] if "markdown" in body else body["content"]["text"]


@pytest.mark.parametrize("kind", ["wecom", "dingtalk"])
def test_an_owner_as_written_in_a_record_cannot_write_markdown_into_the_message(qms, sample, server, kind):
    # a CAPA action's owner is the record's own text: it heads its group in the message
    path = sample / "records" / "capa" / "CAPA-2026-0003.yaml"
    raw = path.read_text(encoding="utf-8")
    hostile = "赵敏 [点这里](http://evil.example/x) @all <font color=info>x</font>\\n# 全员注意"
    assert "owner: 赵敏, due: 2026-11-30" in raw
    path.write_text(raw.replace("owner: 赵敏, due: 2026-11-30", f'owner: "{hostile}", due: 2026-11-30'),
                    encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "hand edit")
    srv = server(lambda port, head: http(b'{"errcode": 0, "errmsg": "ok"}'))
    configure(sample, webhook(kind))
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample,
            env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 0, r.text
    text = sent_text(srv.requests[0])
    heading = next(line for line in text.splitlines() if "赵敏 " in line and "点这里" in line)
    assert heading.startswith("## 赵敏 \\[点这里\\]\\(http://evil.example/x\\) \\@all \\<font"), heading
    assert not re.search(r"(?<!\\)[\[\]()<>@]", heading.replace("## ", "", 1)), heading  # every mark escaped
    assert "\\# 全员注意 · Quality engineer" in heading  # no heading of its own: it stays on the owner's line
    # and qms's own command is shown as it is typed: no backslash inside the code span
    assert "`qms closure_plan show CP-2026-0005`" in text, text


# -- a long list -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, limit", [("wecom", 4096), ("dingtalk", 20000), ("feishu", 20000)])
def test_a_long_list_is_cut_to_what_the_robot_takes_and_everyone_keeps_their_first_items(
        qms, sample, server, kind, limit):
    # 300 complaints past their closure: the message was 33 KB, which WeCom (4,096 bytes of
    # markdown) and DingTalk (20,000) refuse with an errcode, every day, so nobody was reminded
    folder = sample / "records" / "complaint"
    raw = (folder / "CMP-2026-0011.yaml").read_text(encoding="utf-8")
    for n in range(1000, 1300):
        (folder / f"CMP-2026-{n}.yaml").write_text(raw.replace("id: CMP-2026-0011", f"id: CMP-2026-{n}", 1),
                                                   encoding="utf-8")
    git(sample, "add", "-A")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "many")
    srv = server(lambda port, head: http(b'{"errcode": 0, "code": 0, "errmsg": "ok"}'))
    configure(sample, webhook(kind))
    whole = qms("--lang", "en", "remind", root=sample, env=NOW)
    assert whole.code == 0 and len(whole.out.encode()) > limit, whole.text
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 0, r.text
    request = srv.requests[0]
    text = sent_text(request)
    if kind == "feishu":  # Feishu counts the whole request
        assert len(request.partition(b"\r\n\r\n")[2]) <= limit
    else:
        assert len(text.encode("utf-8")) <= limit
    headings = [line.split(" <")[0] for line in whole.out.splitlines() if line.startswith("## ")]
    assert len(headings) > 3 and all(h in text for h in headings), (headings, text)  # nobody left out
    shown = sum(1 for line in text.splitlines() if line.startswith("- "))
    items = sum(1 for line in whole.out.splitlines() if line.startswith("- "))
    assert f"… and {items - shown} more not shown here (a {kind} message holds at most" in text
    assert json.loads(state_file(sample).read_text(encoding="utf-8"))["webhook"]["day"] == "2026-12-07"


# -- two runs at once ----------------------------------------------------------------------------
def test_two_runs_at_once_send_once(sample, server):
    # two cron lines, or a retry while the first still waits for the robot: each read
    # "not sent today" before the other had recorded it, and the group got the message twice
    def slow(port, head):
        time.sleep(1.5)
        return http(b'{"errcode": 0, "errmsg": "ok"}')

    srv = server(slow)
    configure(sample, webhook("wecom", timeout=10))
    env = {**os.environ, **NOW, "QMS_TEST_WEBHOOK_URL": srv.url(), "QMS_LANG": "en"}
    runs = [subprocess.Popen([sys.executable, "-m", "qms_cli", "-C", str(sample), "remind", "--to", "webhook"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) + (p.returncode,) for p in runs]
    assert [code for _o, _e, code in outs] == [0, 0], outs
    assert len(srv.requests) == 1, outs
    said = sorted(o.split(" ")[0] for o, _e, _c in outs)
    assert said == ["already", "sent"], outs


# -- where the record of what was sent is kept -----------------------------------------------------
def test_a_store_in_a_folder_of_its_repository_keeps_the_record_in_the_repositorys_git_folder(qms, tmp_path, server):
    # qms finds the repository above the store; remind made a folder `.git` inside the store
    # for its record (a stray folder git then had to step over)
    repo = tmp_path / "repo"
    (repo / "qa").mkdir(parents=True)
    sample_root = Path(__file__).resolve().parents[1]
    for part in ("records", "files"):
        shutil.copytree(sample_root / part, repo / "qa" / part)
    (repo / "qa" / "qms.yaml").write_text((sample_root / "qms.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-q", "-m", "sample")
    store = repo / "qa"
    srv = server(lambda port, head: http(b'{"errcode": 0, "errmsg": "ok"}'))
    configure(store, webhook("wecom"))
    env = {**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()}
    r = qms("--lang", "en", "remind", "--to", "webhook", root=store, env=env)
    assert r.code == 0 and "sent to" in r.out, r.text
    assert not (store / ".git").exists()
    assert json.loads((repo / ".git" / "qms-remind.json").read_text(encoding="utf-8"))["webhook"]["day"] == "2026-12-07"
    again = qms("--lang", "en", "remind", "--to", "webhook", root=store, env=env)
    assert again.code == 0 and "already sent" in again.out and len(srv.requests) == 1, again.text


# -- e-mail to an address in Chinese ---------------------------------------------------------------
class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


@pytest.mark.parametrize("utf8", [True, False])
def test_a_sender_or_recipient_in_chinese_is_sent_where_the_server_takes_it(qms, sample, utf8):
    # qms.yaml takes 质量@例子.cn, but formataddr refused it: "the message cannot be made:
    # 'ascii' codec can't encode characters" (exit 2) whatever the server could take
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    inbox = Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = controller_mod.Controller(inbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=utf8)
    controller.start()
    try:
        configure(sample, f"remind:\n  timeout: 5\n  email:\n    host: 127.0.0.1\n    port: {port}\n"
                          "    from: 质量部@例子.cn\n    to: [张三@例子.cn, quality@example.com]\n")
        r = qms("--lang", "en", "remind", "--to", "email", root=sample, env=NOW)
    finally:
        controller.stop()
    if not utf8:  # a server without SMTPUTF8 cannot take it: a failed send, said in one line
        assert r.code == 1 and "e-mail not sent" in r.err and "SMTPUTF8" in r.err, r.text
        assert inbox.received == [] and not state_file(sample).exists()
        return
    assert r.code == 0, r.text
    [(sender, rcpts, raw)] = inbox.received
    assert sender == "质量部@例子.cn" and rcpts == ["张三@例子.cn", "quality@example.com"]
    msg = email.message_from_bytes(raw, policy=email.policy.SMTPUTF8)
    assert msg["From"] == "qms <质量部@例子.cn>" and "张三@例子.cn" in msg["To"]
    assert "qms complaint show CMP-2026-0011" in msg.get_content()


@pytest.mark.parametrize("name, says", [
    ("qms-remind.json", ".git/qms-remind.json is not a file"),  # was: sent, then an internal error
    ("qms-remind.lock", ".git/qms-remind.lock cannot be taken"),
])
def test_a_folder_where_remind_keeps_its_record_or_lock_is_said_before_sending(qms, sample, server, name, says):
    srv = server(lambda port, head: http(b'{"errcode": 0, "errmsg": "ok"}'))
    configure(sample, webhook("wecom"))
    (sample / ".git" / name).mkdir()
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 2 and says in r.err and "internal error" not in r.err, r.text
    assert srv.requests == []  # nothing sent that could not be recorded


# -- a secret written into the store ---------------------------------------------------------------
@pytest.mark.parametrize("block, key", [
    ("remind: {webhook: {kind: dingtalk, url_env: 'https://oapi.dingtalk.com/robot/send?access_token=%s'}}",
     "remind.webhook.url_env"),
    ("remind: {webhook: {kind: dingtalk, url_env: QMS_W, secret_env: '%s'}}", "remind.webhook.secret_env"),
    ("remind: {email: {host: smtp.example.com, from: a@example.com, to: [b@example.com], user_env: QMS_U, "
     "password_env: '%s'}}", "remind.email.password_env"),
])
def test_a_secret_written_where_its_variables_name_goes_is_refused_and_never_shown(qms, sample, block, key):
    # the robot's URL or a password pasted into qms.yaml: every command printed it back,
    # into every CI log, in "expected the name of an environment variable ..., not '...'"
    configure(sample, block % TOKEN + "\n")
    for args in (["remind"], ["remind", "--to", "webhook" if "webhook" in key else "email"], ["validate"]):
        r = qms("--lang", "en", *args, root=sample, env=NOW)
        assert r.code == (1 if args == ["validate"] else 2), r.text  # validate: a finding
        assert f"qms.yaml: {key}: expected the name of an environment variable" in r.out + r.err, r.text
        assert TOKEN not in r.out + r.err, (args, r.text)


def test_a_feishu_text_message_carries_no_mention_tag_from_a_record_and_no_backslashes(qms, sample, server):
    # Feishu's text message reads <at user_id="all"></at> and shows a backslash as written:
    # the Markdown escapes made every address read \<wang.qiang\@example.com\> there
    path = sample / "records" / "capa" / "CAPA-2026-0003.yaml"
    raw = path.read_text(encoding="utf-8")
    path.write_text(raw.replace("owner: 赵敏, due: 2026-11-30",
                                "owner: '赵敏 <at user_id=\"all\">所有人</at>', due: 2026-11-30"), encoding="utf-8")
    git(sample, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "-qam", "hand edit")
    srv = server(lambda port, head: http(b'{"code": 0, "msg": "success"}'))
    configure(sample, webhook("feishu"))
    r = qms("--lang", "en", "remind", "--to", "webhook", root=sample, env={**NOW, "QMS_TEST_WEBHOOK_URL": srv.url()})
    assert r.code == 0, r.text
    text = sent_text(srv.requests[0])
    assert "<at" not in text and "＜at user_id=\"all\"＞所有人＜/at＞" in text, text
    assert "\\" not in text and "王强 ＜wang.qiang@example.com＞" in text, text


@pytest.mark.parametrize("extra, says", [
    # SMTP_SSL, then STARTTLS on the encrypted connection: failed at every send
    ("ssl: true, starttls: true", "remind.email: expected ssl: true (port 465) or starttls: true (port 587), not both"),
    # a password without its user (or the user alone) was silently not used: the mail went without a login
    ("starttls: true, password_env: QMS_TEST_SMTP_PASSWORD", "expected both user_env and password_env"),
    ("starttls: true, user_env: QMS_TEST_SMTP_USER", "expected both user_env and password_env"),
])
def test_mail_settings_that_cannot_work_together_are_refused(qms, sample, extra, says):
    configure(sample, "remind: {email: {host: smtp.example.com, port: 587, from: qms@example.com, "
                      f"to: [quality@example.com], {extra}}}}}\n")
    r = qms("--lang", "en", "remind", "--to", "email", root=sample,
            env={**NOW, "QMS_TEST_SMTP_PASSWORD": "pw-secret", "QMS_TEST_SMTP_USER": "u"})
    assert r.code == 2 and says in r.err and "pw-secret" not in r.out + r.err, r.text
