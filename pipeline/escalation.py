"""Escalation risk flags from keywords: regulator / media / legal threats, abuse, anger and churn.

Levels: any regulator (工信部, 12300 …), media (记者, 曝光 …) or legal (律师, 起诉 …) threat → ``high``;
``high_anger`` or more distinct anger markers → ``high``; abuse, anger or a churn threat → ``watch``.
``escalate`` is True exactly when the level is ``high`` (hand the call to a supervisor); ``watch`` only
alerts the agent.

Service numbers (12300, 10080, 315 …) count only as standalone numbers, written in digits or spoken
(幺零零八零), never inside a longer number or a phone number. A threat negated in its own clause
(我不会去工信部投诉) is ignored. A regulator, media or legal word the caller asks about (12300是干什么的,
听说可以找消协 那是干啥的) is no threat: every mention of it in that utterance becomes an ``inquiry`` reason
(``watch``: the agent sees it, nobody is paged).
"""

from __future__ import annotations

import re
from typing import Any

from hotline.core.errors import InvalidInputError
from hotline.core.mask import mask_pii
from hotline.core.normalise import normalise_text
from hotline.core.results import THREAT_TYPES

__all__ = ["EscalationDetector", "merge_escalation", "LEVEL_RANK", "MAX_REASONS"]

LEVEL_RANK = {"none": 0, "watch": 1, "high": 2}
MAX_REASONS = 50  # most reasons a call keeps

_NUMERAL = "0-9零〇洞一幺二两三四五六七八九十"
_DIGIT_CLASS = {
    "0": "[0零〇洞]", "1": "[1一幺]", "2": "[2二两]", "3": "[3三]", "4": "[4四]",
    "5": "[5五]", "6": "[6六]", "7": "[7七]", "8": "[8八]", "9": "[9九]",
}  # fmt: skip
_TO_DIGIT = str.maketrans({"零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
                           "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9", "·": "", ".": ""})
# After a service number, a unit means an amount or an address (315元, 315号), not the hotline.
_NOT_UNIT = r"(?![元块毛角分号室楼栋幢米兆gmk%个次天户])"


def _spoken_number(number: str, *, sep_after_first: bool = False) -> str:
    """Regex for a standalone number in digits, Chinese numerals or a mix (12300, 幺二三洞洞)."""
    classes = [_DIGIT_CLASS[d] for d in number]
    if sep_after_first:
        classes[0] += "[·.]?"
    return rf"(?<![{_NUMERAL}.·]){''.join(classes)}(?![{_NUMERAL}]|\.\d){_NOT_UNIT}"


def _expand(prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> list[str]:
    return [p + s for p in prefixes for s in suffixes]


_PLATFORMS = ("微博", "抖音", "快手", "小红书", "头条", "b站")
_CARRIERS = ("移动", "联通", "电信", "广电")
# Literal keywords → reason type. One alternation of plain literals lets `re` skip most positions
# fast (~2 µs per utterance); named groups or leading look-behinds would make it ~10x slower.
_KEYWORDS: dict[str, str] = {
    **dict.fromkeys(
        ["工业和信息化部", "工信部", "通信管理局", "通管局", "消费者协会", "消协", "市长热线", "政务热线", "政府热线", "信访",
         # ASR slips of 工信部 (a recogniser writes the sound, not the word)
         "工信布", "公信部", "工信不投诉"],
        "regulator",
    ),
    **dict.fromkeys(
        ["上网曝光", "网上曝光", "曝光", "媒体", "记者", "电视台", "报社", "上新闻", "爆料", "发到网上", "发网上", "发帖",
         *_expand(_PLATFORMS, ("上曝光", "曝光", "上爆料", "爆料", "上发帖", "发帖", "上挂你们", "上说说", "上评评理"))],
        "media",
    ),
    **dict.fromkeys(["律师函", "律师", "起诉", "法院", "打官司", "告你们", "去告", "法律途径", "仲裁", "诉讼"], "legal"),
    **dict.fromkeys(
        ["傻逼", "傻b", "傻比", "煞笔", "沙比", "他妈的", "你妈的", "妈的", "你妈逼", "你妈个", "你妈了个", "尼玛", "草泥马",
         "操你", "日你", "卧槽", "我操", "我草", "狗日", "王八蛋", "混蛋", "畜生", "狗东西", "废物", "白痴", "脑残", "蠢货",
         "蠢猪", "婊子", "贱人", "神经病", "你有病", "有病吧", "智障", "弱智", "滚蛋", "滚开", "给我滚", "去死", "狗屎",
         "放屁", "他娘的", "你大爷", "扑街"],
        "abuse",
    ),
    **dict.fromkeys(
        ["气死", "太过分", "忍无可忍", "什么破", "骗子公司", "骗子", "坑人", "坑爹", "欺人太甚", "受够了", "岂有此理", "无耻",
         "流氓", "黑心", "吸血鬼", "强盗", "耍我", "糊弄", "敷衍", "什么玩意", "搞什么", "三番五次", "反反复复",
         *_expand(("破",), ("网", "手机", "宽带", "信号", "公司", "玩意")),
         *_expand(("垃圾",), ("公司", "运营商", "服务", *_CARRIERS))],
        "anger",
    ),
    **dict.fromkeys(
        ["携号转网", "转网", "销户", "销号", "退网", "拆机", "换运营商", "换个运营商", "不用你们", "注销",
         *_expand(("换", "换成", "换到", "转到", "转去"), _CARRIERS)],
        "churn",
    ),
}  # fmt: skip
# Keyword → characters that may not directly precede it (多媒体 is MMS; 他妈妈的 is "his mum's").
_NOT_AFTER = {"媒体": "多", "妈的": "妈"}
_KEYWORD_RE = re.compile("|".join(map(re.escape, sorted(_KEYWORDS, key=len, reverse=True))))

# Patterns that need more than a literal; the look-ahead lists every character a match can start with.
_COMPLEX: dict[str, str] = {
    "regulator": "|".join(
        [_spoken_number("12300"), _spoken_number("10080"), _spoken_number("12315"), _spoken_number("12345"),
         _spoken_number("315", sep_after_first=True)]
    ),
    # Platforms are also apps that fail to load (抖音卡, 发微博发不出去): only with a posting verb.
    "media": rf"(?:发|上|到)个?(?:{'|'.join(_PLATFORMS)})(?![^,，。!！?？]{{0,3}}(?:不了|不出|不上|失败|慢|卡))",
    "abuse": r"(?<![a-z])(?:sb|nmsl|cnm|tmd|mlgb|wtf|shit)(?![a-z])|(?<![a-z])fuck",
    "anger": r"(?:投诉|反映|报修|报障|打|找|联系|来电)了?(?:你们)?(?:多次|无数次|好几次|好多次|十几次|几十次|n次|\d+次)"
    r"|[!?]*![!?]*!+[!?]*|\?{3,}",
}  # fmt: skip
_COMPLEX_FIRST = "0-9零〇洞一幺二两三四五六七八九发上到sncmtwf投反报打找联来!?"
_COMPLEX_RE = re.compile(
    rf"(?=[{_COMPLEX_FIRST}])(?:" + "|".join(f"(?P<{k}>{p})" for k, p in _COMPLEX.items()) + ")"
)

_NEGATABLE = frozenset({"regulator", "media", "legal", "churn"})
_CLAUSE_END = ",，。!！?？;；"
# A negation cue shortly before the match in the same clause; "是不是想" is a question, not a negation.
_NEGATION_RE = re.compile(
    rf"(?<!是)(?:不会|不想|不打算|没打算|没有打算|不至于|并不想|不是要|不是想|没想过?|不需要|不用|无意)[^{_CLAUSE_END}]{{0,6}}$"
)
# 12345 is also everyone's placeholder number ("密码是12345"): it needs a hotline word in its clause.
_HOTLINE_CONTEXT_RE = re.compile("打|拨|热线|投诉|举报|反映|找|政府|市长")
# Right after a threat word: the caller asks what it is (12300是干什么的, 一二三零零 那是干啥的).
_INQUIRY_AFTER_RE = re.compile(
    rf"[\s\u3000]*(?:那|这|它)?(?:个)?(?:到底)?(?:是)?(?:干什么|干啥|干嘛|做什么|做啥|管什么|管啥|什么|啥)"
    rf"(?:的|地方|部门|单位|机构|电话|意思)?[^{_CLAUSE_END}]{{0,3}}(?:[?？]|吗|呢|啊|$)"
)
_EXCLAIM_RE = re.compile(r"^[!?]+$")


class EscalationDetector:
    """Flag utterances that should be escalated or watched.

    Args:
        high_anger: Distinct anger markers that make an utterance ``high`` on their own.

    Example:
        >>> det = EscalationDetector()
        >>> det.run(["再不解决我就去工信部投诉!", "网速有点慢"])["flags"][0]
        {'escalate': True, 'level': 'high', 'reasons': [{'type': 'regulator', 'match': '工信部'}]}
        >>> det.detect("什么破网络,气死我了")["level"]
        'high'
    """

    def __init__(self, *, high_anger: int = 2) -> None:
        self.high_anger = high_anger

    def warm_up(self) -> None:
        """Validate settings (regexes compile at import). Safe to call twice."""
        if self.high_anger < 1:
            raise InvalidInputError(f"high_anger must be >= 1, got {self.high_anger}")

    def detect(self, text: str) -> dict[str, Any]:
        """Flags for one utterance.

        Args:
            text: The utterance (raw or normalised; it is normalised and lower-cased here).

        Returns:
            ``{"escalate": bool, "level": "none"|"watch"|"high", "reasons": [{"type", "match"}, ...]}``,
            reasons in text order without duplicates.
        """
        norm = normalise_text(text).lower()
        hits: list[tuple[int, int, str, str]] = []  # (start, end, type, match)
        for m in _KEYWORD_RE.finditer(norm):
            word = m.group()
            if m.start() > 0 and norm[m.start() - 1] in _NOT_AFTER.get(word, ""):
                continue
            hits.append((m.start(), m.end(), _KEYWORDS[word], word))
        pii_spans: list[tuple[int, int]] | None = None
        for m in _COMPLEX_RE.finditer(norm):
            kind = m.lastgroup
            assert kind is not None
            if kind == "regulator":
                if pii_spans is None:  # only texts that mention a service number pay for PII detection
                    pii_spans = [(e.start, e.end) for e in mask_pii(norm).entities]
                if any(s < m.end() and m.start() < e for s, e in pii_spans):
                    continue
                if m.group().translate(_TO_DIGIT) == "12345" and not _HOTLINE_CONTEXT_RE.search(
                    norm, self._clause_start(norm, m.start()), self._clause_end(norm, m.end())
                ):
                    continue
            hits.append((m.start(), m.end(), kind, m.group()))
        # Two scanners may overlap (上微博 / 微博曝光): keep the earliest, then the longest.
        hits.sort(key=lambda h: (h[0], -h[1]))
        asked = {m.translate(_TO_DIGIT) for _, end, kind, m in hits
                 if kind in THREAT_TYPES and _INQUIRY_AFTER_RE.match(norm, end)}
        if asked:
            hits = [(s, e, "inquiry" if k in THREAT_TYPES and m.translate(_TO_DIGIT) in asked else k, m)
                    for s, e, k, m in hits]
        reasons: list[dict[str, str]] = []
        seen: set[tuple[str, str]] = set()
        last_end = 0
        for start, end, kind, match in hits:
            if start < last_end:
                continue
            last_end = end
            if kind in _NEGATABLE and _NEGATION_RE.search(norm, self._clause_start(norm, start), start):
                continue
            key = (kind, "!!" if kind == "anger" and _EXCLAIM_RE.match(match) else match)
            if key not in seen:
                seen.add(key)
                reasons.append({"type": kind, "match": match})
        return self._flags(reasons)

    @staticmethod
    def _clause_start(text: str, pos: int) -> int:
        return max(text.rfind(c, 0, pos) for c in _CLAUSE_END) + 1

    @staticmethod
    def _clause_end(text: str, pos: int) -> int:
        ends = [i for i in (text.find(c, pos) for c in _CLAUSE_END) if i >= 0]
        return min(ends, default=len(text))

    def _flags(self, reasons: list[dict[str, str]]) -> dict[str, Any]:
        types = [r["type"] for r in reasons]
        n_anger = types.count("anger")
        if set(THREAT_TYPES) & set(types) or n_anger >= self.high_anger:
            level = "high"
        elif types:
            level = "watch"
        else:
            level = "none"
        return {"escalate": level == "high", "level": level, "reasons": reasons}

    def run(self, texts: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Flags for a batch.

        Args:
            texts: Utterances.

        Returns:
            ``{"flags": [flags, ...]}`` in input order, each as returned by :meth:`detect`.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise InvalidInputError(
                f"texts must be a list of str, got {type(texts).__name__}; wrap a single utterance as [text]"
            )
        return {"flags": [self.detect(t) for t in texts]}


def merge_escalation(esc: dict[str, Any], flags: dict[str, Any], idx: int) -> None:
    """Fold one customer turn's ``flags`` (an :class:`EscalationDetector` row) into a call's running
    escalation ``esc`` (``{"escalate", "level", "reasons"}``): the highest level wins, reasons are kept once
    each with the turn that first gave them. Shared by the live engine and batch analysis."""
    level = flags.get("level", "none")
    if LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(esc["level"], 0):
        esc["level"] = level
    if flags.get("escalate"):
        esc["escalate"] = True
    seen = {(r["type"], r["match"]) for r in esc["reasons"]}
    for r in flags.get("reasons", []):
        if (r.get("type"), r.get("match")) not in seen and len(esc["reasons"]) < MAX_REASONS:
            esc["reasons"].append({"type": r.get("type"), "match": r.get("match"), "turn": idx})
            seen.add((r.get("type"), r.get("match")))
