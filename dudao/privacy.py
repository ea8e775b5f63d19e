"""Removing personal data from text that is published: ID numbers, phones, e-mail, and names after role words."""

from __future__ import annotations

import re

# The most common surnames (百家姓 by frequency); a role word followed by one of them and one or two more
# characters is taken to be a person's name.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
ROLES = "学生|幼儿|家长|教师|老师|班主任|校长|举报人|投诉人|当事人|监护人"

_PATTERNS = [
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[身份证号已隐去]"),
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), "[电话已隐去]"),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), "[电话已隐去]"),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "[邮箱已隐去]"),
    # A role word, a surname, then a two-character given name before a boundary or else a one-character one:
    # when unsure, more is hidden rather than less.
    (
        re.compile(rf"({ROLES})([{SURNAMES}])(?:[\u4e00-\u9fff]{{2}}(?=[，。、；：,.;:\s的在因向反说称等电于和与及被未已多同（(]|$)|[\u4e00-\u9fff])"),
        r"\1\2某",
    ),
]


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
    return text
