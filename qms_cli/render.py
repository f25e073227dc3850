"""Paper forms as Markdown: Jinja2 over `<type>.<lang>.md.j2`, from the store's own
templates/ first, then the built-in ones; StrictUndefined, so a template that names
something the record does not offer fails loudly instead of printing a blank."""

from __future__ import annotations

from typing import Any

from .config import data_dir
from .deadlines import deadlines
from .errors import BadInput
from .model import values
from .views import plain, shown


def _cell(text: Any) -> str:
    """A value that is safe inside a Markdown table cell."""
    s = "" if text is None else str(text)
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def environment(store):
    import jinja2

    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(store.root / "templates")),
            jinja2.FileSystemLoader(str(data_dir("templates"))),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    return env


def render(store, record_id: str, lang: str, type_name: str | None = None) -> str:
    import jinja2

    from .store import git as gitops

    record = store.read(record_id, type_name)
    rt = store.record_type(record.type)
    data = record.data
    config = store.config
    now = store.now()

    def v(path: str) -> str:
        """The value at `path` as a person reads it (labels for codes), or ''."""
        value = values.get(data, path)
        spec = rt.field(path)
        if values.is_empty(value):
            return ""
        return shown(spec, value, lang) if spec else str(value)

    def label(path: str) -> str:
        return rt.label_of(path, lang)

    def signature(meaning: str) -> dict | None:
        found = None
        for s in values.signatures(data):
            if isinstance(s, dict) and s.get("meaning") == meaning:
                found = plain(s)
        return found

    def local(iso: str) -> str:
        moment = values.to_datetime(iso, config.tz)
        return moment.astimezone(config.tz).strftime("%Y-%m-%d %H:%M") if moment else iso

    def role_label(code: str | None) -> str:
        role = config.roles.get(code or "")
        return (role.label.get(lang) or code) if role else (code or "")

    def other(rid: str) -> dict | None:
        try:
            tname, _ = store.locate(str(rid))
        except BadInput:
            return None
        found = store.fetch(tname, str(rid))
        return plain(found) if found is not None else None

    def related(type_name: str, field: str, target: str | None = None) -> list[dict]:
        """Records of `type_name` whose `field` names `target` (default: this record)."""
        target = target or record.id
        rows = [plain(d) for d in store.scan(type_name) if values.get(d, field) == target
                or (isinstance(values.get(d, field), list) and target in values.get(d, field))]
        return sorted(rows, key=lambda d: str(d.get("id")))

    def sig(rec: dict | None, meaning: str) -> dict | None:
        found = None
        for s_ in values.signatures(rec or {}):
            if isinstance(s_, dict) and s_.get("meaning") == meaning:
                found = s_
        return found

    def label_of(type_name: str, path: str) -> str:
        return store.record_type(type_name).label_of(path, lang)

    def value_of(type_name: str, path: str, value) -> str:
        spec = store.record_type(type_name).field(path)
        if values.is_empty(value):
            return ""
        return shown(spec, value, lang) if spec else str(value)

    def state_label_of(type_name: str, state: str) -> str:
        states = store.record_type(type_name).workflow.states
        return states[state].label[lang] if state in states else str(state)

    history = [
        {
            "date": local(e.date),
            "author": e.author,
            "email": e.email,
            "action": (e.trailers.get("QMS-Action") or [e.subject])[0],
            "subject": e.subject,
            "comment": e.body,
        }
        for e in gitops.log(store.root, record.path)
    ]
    context = {
        "id": record.id,
        "r": plain(data),
        "v": v,
        "label": label,
        "signature": signature,
        "state": record.state,
        "state_label": rt.workflow.states[record.state].label[lang],
        "state_labels": {k: st.label[lang] for k, st in rt.workflow.states.items()},
        "role_label": role_label,
        "meaning_label": lambda m: rt.meaning_label(m, lang),
        "record": other,
        "related": related,
        "sig": sig,
        "label_of": label_of,
        "value_of": value_of,
        "state_label_of": state_label_of,
        "form_title": rt.form[lang],
        "type_label": rt.label[lang],
        "company": config.company,
        "site": config.site,
        "deadlines": [
            dict(d.as_dict(), label=d.label[lang]) for d in deadlines(rt, data, config, now)
        ],
        "signatures": plain(values.signatures(data)),
        "history": history,
        "lang": lang,
        "now": now.strftime("%Y-%m-%d %H:%M"),
    }
    name = f"{record.type}.{lang}.md.j2"
    try:
        template = environment(store).get_template(name)
    except jinja2.TemplateNotFound:
        raise BadInput(f"no form template {name} (in the store's templates/ or built in)") from None
    except jinja2.TemplateSyntaxError as e:
        raise BadInput(f"templates/{name}:{e.lineno}: {e.message}") from None
    try:
        return template.render(**context)
    except jinja2.UndefinedError as e:
        raise BadInput(f"{record.id}: form template {name}: {e.message}") from None
    except (AttributeError, TypeError, ValueError, KeyError) as e:  # a hand-broken record
        raise BadInput(f"{record.id}: cannot be printed on {name} ({e}); run qms validate {record.id}") from None
