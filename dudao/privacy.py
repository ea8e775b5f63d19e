"""Removing personal data from text that is published: ID numbers, bank cards, phones, e-mail, and names after role
words. Every public surface writes its text through `redact` (issue 19): reports, findings, circulars, decisions,
commendations and units' statements."""

from __future__ import annotations

import re

# The most common surnames (百家姓 by frequency); a role word followed by one of them and one or two more
# characters is taken to be a person's name.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
# Words after which a person's name follows in notices, statements and findings (联系人李四, 校长：王芳).
ROLES = (
    "联系人|负责人|经办人|申请人|举报人|投诉人|当事人|监护人|受害人|学生|幼儿|家长|教师|老师|班主任|副校长|校长|园长"
)

_DIGITS = r"(?<![\dA-Za-z])"  # a number starts here: not inside a longer number or code
_END = r"(?![\dA-Za-z])"
_PATTERNS = [
    (re.compile(rf"{_DIGITS}\d{{6}}(?:19|20)\d{{2}}[01]\d[0-3]\d\d{{3}}[\dXx]{_END}"), "[身份证号已隐去]"),  # 18 digits
    (re.compile(rf"{_DIGITS}\d{{6}}\d{{2}}[01]\d[0-3]\d\d{{3}}{_END}"), "[身份证号已隐去]"),  # 15 digits (before 1999)
    (
        re.compile(rf"{_DIGITS}(?:\d{{4}}[ -]?){{3}}\d{{4}}(?:[ -]?\d{{1,3}})?{_END}"),
        "[银行卡号已隐去]",
    ),  # 16 to 19 digits
    (re.compile(rf"(?:\+?86[ -]?)?{_DIGITS}1[3-9]\d[ -]?\d{{4}}[ -]?\d{{4}}{_END}"), "[电话已隐去]"),
    (
        re.compile(rf"{_DIGITS}(?:0\d{{2,3}}[ -]?|[(（]0\d{{2,3}}[)）])\d{{7,8}}(?:[-转]\d{{1,4}})?{_END}"),
        "[电话已隐去]",
    ),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[邮箱已隐去]"),
]

# A role word, then (after a colon, perhaps) a common surname: a person's name follows.
_ROLE_NAME = re.compile(rf"({ROLES})([:：]?\s?)([{SURNAMES}])(?=[\u4e00-\u9fff])")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# What follows a name in these texts, to tell a one-character given name from a two-character one: words first
# (李四来电, 李四存在), then single characters (王小明对…, 刘建国的…).
_AFTER_WORDS = (
    "来电",
    "来访",
    "存在",
    "提交",
    "提供",
    "分管",
    "入园",
    "入学",
    "签字",
    "反映",
    "表示",
    "承诺",
    "参加",
    "认为",
    "要求",
    "申请",
    "电话",
    "手机",
    "联系",
    "身份",
    "邮箱",
    "同学",
    "同志",
    "老师",
    "家长",
    "负责",
    "所在",
    "因为",
    "多次",
    "已经",
    "未能",
    "体罚",
    "变相",
    "违规",
    "有偿",
    "辱骂",
    "殴打",
    "索要",
    "收受",
    "擅自",
    "私自",
    "长期",
    "未按",
    "不按",
    "等人",
    "本人",
)
_AFTER_CHARS = set("的在因向说称等于和与及被未已多同对均为是将曾也都所系把从到请反等，。、；：,.;:!?！？（）()“”\"' \n")


# Characters that follow a name and are rarely a given name's second character (的, 于, 因 …).
_AFTER_ONLY = set("的于因被已未和与及等均曾也都对说称是将")


def _given_name_length(rest: str) -> int:
    """How many characters of `rest` (the text after a surname) are the given name: 1 or 2, when unsure 2."""
    if len(rest) < 2 or not _CJK.match(rest[1]) or rest[1:].startswith(_AFTER_WORDS) or rest[1] in _AFTER_ONLY:
        return 1
    if len(rest) == 2 or not _CJK.match(rest[2]) or rest[2:].startswith(_AFTER_WORDS) or rest[2] in _AFTER_CHARS:
        return 2
    return 1 if rest[1] in _AFTER_CHARS else 2


def _names_after_roles(text: str) -> str:
    out, at = [], 0
    for match in _ROLE_NAME.finditer(text):
        if match.start() < at:  # inside a name already hidden
            continue
        given = _given_name_length(text[match.end() :])
        out += [text[at : match.end()], "某"]
        at = match.end() + given
    return "".join(out) + text[at:]


def redact(text: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """`text` with ID numbers, phone numbers, e-mail addresses and people's names removed.

    `names` are names known to appear (e.g. those recorded with a complaint); they are replaced
    wherever they stand. The rest is caught by pattern: a role word (学生, 家长, 举报人 …) followed
    by a common surname and a given name becomes the role word and surname with 某.
    """
    for name in sorted({n for n in names if n.strip()}, key=len, reverse=True):
        text = text.replace(name, name[0] + "某")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _names_after_roles(text)
