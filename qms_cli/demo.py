"""`qms demo`: copy the sample store somewhere new and play a complaint through its whole
life there, as the people of the sample store, so a newcomer sees every step in git."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .config import CONFIG_FILE, sample_store_dir
from .errors import QmsError, Refused

QE = ("李雷", "li.lei@example.com")
QM = ("王强", "wang.qiang@example.com")


@dataclass
class DemoResult:
    path: Path
    record_id: str = ""
    steps: list[str] = field(default_factory=list)
    forms: list[Path] = field(default_factory=list)
    findings: int = 0


def _as(store, who: tuple[str, str]) -> None:
    """Act as `who`: the actor of every change is the git identity of the store."""
    import git

    with git.Repo(store.root) as repo, repo.config_writer() as cw:
        cw.set_value("user", "name", who[0])
        cw.set_value("user", "email", who[1])


def copy_sample(target: Path) -> None:
    src = sample_store_dir()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / CONFIG_FILE, target / CONFIG_FILE)
    for folder in ("records", "files"):
        if (src / folder).is_dir():
            shutil.copytree(src / folder, target / folder, dirs_exist_ok=True)


def play(path: Path | None) -> DemoResult:
    from .checks import validate
    from .render import render
    from .store import Store
    from .store import git as gitops

    if path is None:
        path = Path(tempfile.mkdtemp(prefix="qms-demo-"))
    path = path.expanduser().resolve()
    if path.exists() and any(path.iterdir()):
        raise Refused(f"{path}: not empty; give qms demo a new or empty folder")
    import git

    copy_sample(path)
    git.Repo.init(path).close()
    store = Store(path)
    _as(store, QE)
    sample = [CONFIG_FILE] + [
        p.relative_to(path).as_posix()
        for folder in ("records", "files")
        for p in sorted((path / folder).rglob("*"))
        if p.is_file()
    ]
    gitops.commit(path, sample, "qms: sample store\n\nQMS-Action: import\n")
    res = DemoResult(path)
    tz = store.config.tz
    received = datetime.now(tz).replace(second=0, microsecond=0) - timedelta(days=1)
    at = lambda d: d.isoformat(timespec="minutes")  # noqa: E731

    # Each step runs with a commit date, as it would on the day; the signature carries it.
    def step(text: str, fn, *, when: datetime | None = None) -> None:
        old = {k: os.environ.get(k) for k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
        if when is not None:
            os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = when.isoformat()
        try:
            fn()
            res.steps.append(text)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    created = {}

    def new() -> None:
        created["id"] = store.new(
            "complaint",
            [
                "customer.name=上汽大众汽车有限公司",
                "customer.contact_person=孙工 (SQE)",
                "customer.phone=021-6958 0000",
                "product.name=前制动软管总成",
                "product.part_number=5QD 611 701 B",
                "batch=20260315-B2",
                "quantity_affected=240",
                "channel=email",
                f"received_at={at(received)}",
                "received_by=李雷",
                "original=oral",
                "description=客户装配线发现制动软管接头处渗油，批量发生，生产线已停线 40 分钟。",
                "class=serious",
                "major_quality_problem=true",
                "reply_needed=true",
            ],
        ).record.id

    step("李雷 registers a serious complaint from 上汽大众 (state: received)", new, when=received)
    cid = created["id"]
    res.record_id = cid
    t = received + timedelta(minutes=50)
    step(
        "李雷 calls the customer within the 2-hour limit and moves it to acknowledged",
        lambda: store.move(
            "complaint", cid, "acknowledged",
            [f"contact.at={at(t)}", "contact.by=李雷", "contact.summary=确认停线影响；当日派人到客户现场 100% 挑选在库品。",
             "interim_countermeasure=客户处及在途库存 100% 气密检测，合格品贴绿色标签后放行。"],
            "Called 孙工; sorting at the customer today.",
        ),
        when=t,
    )
    t += timedelta(hours=1)
    step(
        "the complaint is passed to engineering, production and quality (investigating)",
        lambda: store.move(
            "complaint", cid, "investigating",
            ["investigation.departments=技术中心, 制造部, 质控部", "d1.team=李雷(组长), 技术中心 赵工, 制造部 钱班长",
             "d2.problem=接头压接处渗油，240 件，批次 20260315-B2。", "d3.containment=在库 1,200 件全检，隔离可疑品 36 件。"],
        ),
        when=t,
    )
    try:
        store.move("complaint", cid, "closed")
    except QmsError as e:
        res.steps.append(f"closing it now is refused, as it should be: {e.message}")
    t += timedelta(hours=5)
    step(
        "root cause found (crimping die worn); corrective action planned (correcting)",
        lambda: store.move(
            "complaint", cid, "correcting",
            ["investigation.standard=Q/LX 0312-2024 制动软管总成技术条件", "investigation.result=压接外径超差 +0.15 mm，气密试验泄漏。",
             "responsibility=ours", "disposition=rework, scrap", "d4.root_cause=压接模具磨损超限，点检表未规定模具寿命。",
             "d4.escape_point=终检气密试验抽检频次不足。", "d5.corrective_action=更换模具；模具寿命 5 万次强制更换；气密试验改为 100%。"],
        ),
        when=t,
    )
    t += timedelta(hours=4)
    step(
        "actions implemented and the 8D report sent to the customer (verifying)",
        lambda: store.move(
            "complaint", cid, "verifying",
            ["d6.implementation=新模具已投用；气密 100% 检测已写入作业指导书 LX-WI-2026-031。", f"d6.implemented_at={(t.date()).isoformat()}",
             f"report.submitted_at={at(t)}", "d7.prevention=PFMEA 更新压接工序；同类模具纳入寿命管理。"],
        ),
        when=t,
    )
    now = datetime.now(tz).replace(second=0, microsecond=0)
    _as(store, QM)
    step(
        "王强 (quality manager) checks effectiveness, the customer confirms, and he closes it",
        lambda: store.move(
            "complaint", cid, "closed",
            ["effectiveness.result=连续 3 批次 0 泄漏，客户来料检验合格。", f"effectiveness.checked_at={now.date().isoformat()}",
             "effectiveness.checked_by=王强", "customer_confirmation.result=accepted", f"customer_confirmation.at={now.date().isoformat()}",
             "customer_confirmation.by=孙工", "d8.closure=8D 结案，感谢小组成员。"],
            "Effective: three batches without leakage.",
        ),
        when=now,
    )
    _as(store, QE)
    forms = path / "forms"
    forms.mkdir(exist_ok=True)
    for lang in ("zh", "en"):
        out = forms / f"{cid}.{lang}.md"
        out.write_text(render(store, cid, lang, "complaint"), encoding="utf-8")
        res.forms.append(out)
    res.findings = len([f for f in validate(store) if f.severity == "error"])
    return res
