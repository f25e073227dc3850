"""The words qms itself puts on forms, ledgers and `show` (what no declaration holds), in
the language a form is printed in (--lang, else the store's lang:). Messages, refusals and
help are another matter: they go through gettext (i18n.py) in the language qms speaks.
Pure data; anything may import it."""

from __future__ import annotations

WORDS = {
    "zh": {
        # show
        "state": "状态", "fields": "内容", "deadlines": "时限", "next": "下一步",
        "signatures": "签名", "met": "已按时完成", "late": "超时完成", "open": "进行中",
        "overdue": "已超期", "stopped": "不适用", "due": "截止", "done": "完成于",
        "extended": "按闭环计划延期", "missing": "缺少", "ready": "可执行", "role": "角色",
        "none": "无", "profile": "时限标准", "at": "截至", "final": "（终态）", "number": "编号",
        # ledgers
        "total": "合计", "printed": "制表时间", "period": "期间", "type_number": "{type}编号",
        "counted": "统计{type}数", "chart_data": "图表数据",
        # values and acts
        "yes": "是", "no": "否", "entered": "{on} 补录（{at} 录入）",
    },
    "en": {
        "state": "state", "fields": "fields", "deadlines": "deadlines", "next": "next moves",
        "signatures": "signatures", "met": "met", "late": "met late", "open": "open",
        "overdue": "OVERDUE", "stopped": "not applicable", "due": "due", "done": "done",
        "extended": "extended by closure plan", "missing": "missing", "ready": "ready", "number": "No.",
        "role": "role", "none": "none", "profile": "time limits", "at": "as of",
        "final": "(final)",
        "total": "Total", "printed": "Printed", "period": "Period", "type_number": "{type} No.",
        "counted": "{type}s counted", "chart_data": "Chart data",
        "yes": "Yes", "no": "No", "entered": "{on} (entered afterwards on {at})",
        
    },
}

# What a ledger and a form put between values: Chinese joins with full-width punctuation
# (GB/T 15834), and lists simple items with the enumeration comma 、.
PUNCTUATION = {
    "zh": {"label": "：", "item": "、", "record": "；", "field": "，"},
    "en": {"label": ": ", "item": ", ", "record": "; ", "field": ", "},
}


def words(lang: str) -> dict[str, str]:
    """The form words of `lang` (English for a language qms has no words for)."""
    return WORDS.get(lang, WORDS["en"])


def punctuation(lang: str) -> dict[str, str]:
    return PUNCTUATION.get(lang, PUNCTUATION["en"])
