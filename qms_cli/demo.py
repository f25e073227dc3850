"""`qms demo`: copy the sample store somewhere new and play a complaint through its whole
life there, as the people of the sample store, so a newcomer sees every step in git."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from .config import CONFIG_FILE, sample_store_dir
from .errors import QmsError, Refused, Severity
from .i18n import _
from .model import values
from .paths import FILES, RECORDS
from .render import render
from . import engine
from .store import Store
from .store import git as gitops
from .validation import validate

QE = ("李雷", "li.lei@example.com")
QM = ("王强", "wang.qiang@example.com")


@dataclass
class DemoResult:
    path: Path
    record_id: str = ""
    steps: list[str] = field(default_factory=list)
    forms: list[Path] = field(default_factory=list)
    findings: int = 0
    document_id: str = ""


def _holder(store, role: str, department: str | None = None) -> tuple[str, str]:
    """Someone who holds `role` today (for `department`, where the role is limited to one)."""
    today = datetime.now(store.config.tz).date()
    for h in store.config.roles[role].holders:
        if h.covers(today) and h.serves(department):
            return h.name, h.email
    if department:
        raise Refused(_("qms.yaml names nobody who holds '{role}' for {department}").format(role=role, department=department))
    raise Refused(_("qms.yaml names nobody who holds '{role}'").format(role=role))


def _document_change(store, acting: _Acting, res: DemoResult, step) -> str | None:
    """A procedure's next edition from draft to effective: the old edition's copies are
    flagged for recall, one is recalled, a copy of the new edition is issued."""

    docs = [d for d in store.scan("document") if d.get("state") == "active" and d.get("controlled")
            and d.get("category") == "procedure" and d.get("edition")]
    copies = [c for c in store.scan("distribution") if c.get("state") == "issued"]
    docs = [d for d in docs if any(c.get("document") == d["id"] and c.get("edition") == d["edition"] for c in copies)]
    if not docs:
        res.steps.append(_("(the sample store has no procedure with copies out: the document change is skipped)"))
        return None
    doc = sorted(docs, key=lambda d: d["id"])[0]
    did, title = doc["id"], doc.get("title", "")
    rt = store.record_type("revision")
    table = {**rt.approvals.default, **(store.config.approvals)}.get(doc["category"], {})
    tz = store.config.tz
    t = datetime.now(tz).replace(second=0, microsecond=0) - timedelta(hours=2)
    # the new edition's text: the current one with a new clause
    current = store.fetch("revision", str(doc.get("effective_revision"))) or {}
    old_text = (store.root / current["content"]).read_text(encoding="utf-8") if current.get("content") else f"# {title}\n"
    rel = f"files/documents/{did}/demo-{t.strftime('%Y%m%d%H%M')}.md"
    (store.root / rel).parent.mkdir(parents=True, exist_ok=True)
    (store.root / rel).write_text(
        old_text.rstrip() + "\n\n## 电子文件\n电子版受控文件与纸质文件同样受控，发布于共享盘只读目录。\n", encoding="utf-8"
    )

    dc = _holder(store, "document_controller")
    gitops.commit(store.root, [rel], f"files: {rel}\n\nQMS-Action: attach\n",
                  author=gitops.Actor(dc[0], dc[1], t - timedelta(minutes=5)))
    made = {}

    def draft():
        made["id"] = acting.new("revision", [
            f"document={did}", "change=modification", "summary=增加电子文件的控制要求",
            "reason=内审发现电子版文件未受控", f"content={rel}",
        ]).record.id

    _as(acting, dc)
    step(_("{name} drafts the next edition of {id} {title} (state: draft)").format(name=dc[0], id=did, title=title),
         draft, when=t)
    rev = made["id"]
    step(_("… and submits it for review"), lambda: acting.move("revision", rev, "in_review"), when=t + timedelta(minutes=10))
    reviewer = _holder(store, table["review"], doc.get("department"))
    _as(acting, reviewer)
    step(_("{name} ({role}) reviews it").format(name=reviewer[0], role=table["review"]), lambda: acting.move("revision", rev, "reviewed"),
         when=t + timedelta(minutes=20))
    approver = _holder(store, table["approve"], doc.get("department"))
    _as(acting, approver)
    ta = t + timedelta(minutes=30)
    tr = t + timedelta(minutes=40)
    step(_("{name} ({role}) approves it; the content's SHA-256 is pinned").format(name=approver[0], role=table["approve"]),
         lambda: acting.move("revision", rev, "approved",
                            [f"published_date={ta.date().isoformat()}", f"effective_date={tr.date().isoformat()}"]),
         when=ta)
    _as(acting, dc)
    step(_("{name} releases it: {id} is now at the new edition, the old revision superseded, "
           "every copy of the old edition flagged for recall — one commit").format(name=dc[0], id=did),
         lambda: acting.move("revision", rev, "effective"), when=tr)
    flagged = sorted(
        (c for c in store.scan("distribution") if c.get("document") == did and c.get("state") == "issued"
         and values.get(c, "recall.required")), key=lambda c: c["id"])
    if flagged:
        first = flagged[0]
        step(_("{name} takes back copy No. {number} from {holder}").format(
                 name=dc[0], number=first.get("copy_number"), holder=values.get(first, "holder.person")),
             lambda: acting.move("distribution", first["id"], "recalled",
                                [f"recalled_on={tr.date().isoformat()}", f"recalled_by={dc[0]}"]),
             when=tr + timedelta(minutes=10))
        dept = values.get(first, "holder.department")
        head = _holder(store, "department_head", dept)
        _as(acting, head)
        step(_("{name} (head of {department}) approves a copy of the new edition for the same place").format(
                 name=head[0], department=dept),
             lambda: acting.new("distribution", [
                 f"document={did}", f"holder.department={dept}",
                 f"holder.person={values.get(first, 'holder.person')}",
                 f"issued_on={tr.date().isoformat()}",
             ] + ([f"holder.location={values.get(first, 'holder.location')}"]
                  if values.get(first, "holder.location") else [])), when=tr + timedelta(minutes=20))
    _as(acting, QE)
    return did

class _Acting:
    """The store as one of the sample's people acts on it at a time of the scenario: each
    change is made `by` that person then (the store's git identity and clock, and the
    environment, are left as they are)."""

    def __init__(self, store: Store, who: tuple[str, str]):
        self.store, self.who, self.when = store, who, None

    def by(self) -> gitops.Actor:
        return gitops.Actor(self.who[0], self.who[1], self.when or datetime.now(self.store.config.tz))

    def new(self, *args, **kwargs):
        return engine.new(self.store, *args, by=self.by(), **kwargs)

    def move(self, *args, **kwargs):
        return engine.move(self.store, *args, by=self.by(), **kwargs)


def _as(acting: _Acting, who: tuple[str, str]) -> None:
    """From now on, `who` acts."""
    acting.who = who


def copy_sample(target: Path) -> None:
    src = sample_store_dir()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / CONFIG_FILE, target / CONFIG_FILE)
    for folder in (RECORDS, FILES):
        if (src / folder).is_dir():
            shutil.copytree(src / folder, target / folder, dirs_exist_ok=True)


def play(path: Path | None) -> DemoResult:
    """Play the demo in `path` (a new or empty folder; a temporary one if None), each step
    made by the sample store's person who holds the role, at a time of the scenario."""
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="qms-demo-"))
    path = path.expanduser().resolve()
    if path.exists() and any(path.iterdir()):
        raise Refused(_("{path}: not empty; give qms demo a new or empty folder").format(path=path))
    import git

    copy_sample(path)
    git.Repo.init(path).close()
    store = Store(path)
    acting = _Acting(store, QE)
    sample = [CONFIG_FILE] + [
        p.relative_to(path).as_posix()
        for folder in (RECORDS, FILES)
        for p in sorted((path / folder).rglob("*"))
        if p.is_file()
    ]
    tz = store.config.tz
    received = datetime.now(tz).replace(second=0, microsecond=0) - timedelta(days=1)
    # time runs forward in a store: the sample is imported before the demo's first act
    gitops.commit(path, sample, "qms: sample store\n\nQMS-Action: import\n",
                  author=gitops.Actor(QE[0], QE[1], received - timedelta(hours=1)))
    res = DemoResult(path)
    at = lambda d: d.isoformat(timespec="minutes")  # noqa: E731

    # Each step runs with a commit date, as it would on the day; the signature carries it.
    def step(text: str, fn, *, when: datetime | None = None) -> None:
        acting.when = when
        try:
            fn()
            res.steps.append(text)
        finally:
            acting.when = None

    created = {}

    def new() -> None:
        created["id"] = acting.new(
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

    step(_("{name} registers a serious complaint from {customer} (state: received)").format(
        name=QE[0], customer="上汽大众"), new, when=received)
    cid = created["id"]
    res.record_id = cid
    t = received + timedelta(minutes=50)
    sales = _holder(store, "sales")
    _as(acting, sales)
    step(
        _("{name} (sales) calls the customer within the 2-hour limit and moves it to acknowledged").format(name=sales[0]),
        lambda: acting.move(
            "complaint", cid, "acknowledged",
            [f"contact.at={at(t)}", f"contact.by={sales[0]}", "contact.summary=确认停线影响；当日派人到客户现场 100% 挑选在库品。",
             "interim_countermeasure=客户处及在途库存 100% 气密检测，合格品贴绿色标签后放行。"],
            "Called 孙工; sorting at the customer today.",
        ),
        when=t,
    )
    _as(acting, QE)
    t += timedelta(hours=1)
    step(
        _("the complaint is passed to engineering, production and quality (investigating)"),
        lambda: acting.move(
            "complaint", cid, "investigating",
            ["investigation.departments=技术中心, 制造部, 质控部", "d1.team=李雷(组长), 技术中心 赵工, 制造部 钱班长",
             "d2.problem=接头压接处渗油，240 件，批次 20260315-B2。", "d3.containment=在库 1,200 件全检，隔离可疑品 36 件。"],
        ),
        when=t,
    )
    try:
        acting.move("complaint", cid, "closed")
    except QmsError as e:
        res.steps.append(_("closing it now is refused, as it should be: {problem}").format(problem=e.message))
    t += timedelta(hours=5)
    step(
        _("root cause found (crimping die worn); corrective action planned (correcting)"),
        lambda: acting.move(
            "complaint", cid, "correcting",
            ["investigation.standard=Q/LX 0312-2024 制动软管总成技术条件", "investigation.result=压接外径超差 +0.15 mm，气密试验泄漏。",
             "responsibility=ours", "disposition=rework, scrap", "d4.root_cause=压接模具磨损超限，点检表未规定模具寿命。",
             "d4.escape_point=终检气密试验抽检频次不足。", "d5.corrective_action=更换模具；模具寿命 5 万次强制更换；气密试验改为 100%。"],
        ),
        when=t,
    )
    t += timedelta(hours=4)
    step(
        _("actions implemented and the 8D report sent to the customer (verifying)"),
        lambda: acting.move(
            "complaint", cid, "verifying",
            ["d6.implementation=新模具已投用；气密 100% 检测已写入作业指导书 LX-WI-2026-031。", f"d6.implemented_at={(t.date()).isoformat()}",
             f"report.submitted_at={at(t)}", "d7.prevention=PFMEA 更新压接工序；同类模具纳入寿命管理。"],
        ),
        when=t,
    )
    now = datetime.now(tz).replace(second=0, microsecond=0) - timedelta(hours=3)
    _as(acting, QM)
    step(
        _("{name} (quality manager) checks effectiveness and the customer confirms; a serious complaint "
          "goes to the general manager").format(name=QM[0]),
        lambda: acting.move(
            "complaint", cid, "approving",
            ["effectiveness.result=连续 3 批次 0 泄漏，客户来料检验合格。", f"effectiveness.checked_at={now.date().isoformat()}",
             "effectiveness.checked_by=王强", "customer_confirmation.result=accepted", f"customer_confirmation.at={now.date().isoformat()}",
             "customer_confirmation.by=孙工", "d8.closure=8D 结案，感谢小组成员。"],
            "Effective: three batches without leakage.",
        ),
        when=now,
    )
    gm = _holder(store, "general_manager")
    _as(acting, gm)
    later = now + timedelta(minutes=2)
    step(
        _("{name} (general manager) approves how it was handled, and the complaint closes").format(name=gm[0]),
        lambda: acting.move("complaint", cid, "closed", [], "处理过程认可，同意结案。"),
        when=later,
    )
    _as(acting, QE)
    doc = _document_change(store, acting, res, step)
    forms = path / "forms"
    forms.mkdir(exist_ok=True)
    for rid, tname in [(cid, "complaint")] + ([(doc, "document")] if doc else []):
        for lang in ("zh", "en"):
            out = forms / f"{rid}.{lang}.md"
            out.write_text(render(store, rid, lang, tname), encoding="utf-8")
            res.forms.append(out)
    res.document_id = doc or ""
    res.findings = len([f for f in validate(store) if f.severity is Severity.ERROR])
    return res
