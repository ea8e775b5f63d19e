"""The one redaction against a corpus of sentences as offices write them: notices, statements, findings, outcomes.

Each template is a sentence an office or a unit would publish; its slots are filled with personal data of each kind
(names after role words, mobile and landline numbers, ID numbers, bank cards, e-mail addresses) and the expected
output is the same sentence with each slot as the redaction must leave it. Sentences without personal data (codes,
dates, amounts, document numbers, statistics) must come out unchanged. The test reports precision (text that is not
personal is kept) and recall (what is personal is hidden), and requires both to be 1.0 on this corpus.
"""

from __future__ import annotations

import itertools

import pytest

from dudao.privacy import redact

pytestmark = pytest.mark.unit

PHONE, ID, CARD, MAIL = "[电话已隐去]", "[身份证号已隐去]", "[银行卡号已隐去]", "[邮箱已隐去]"

# Slot values, each with what the redaction must leave: a name after a role word keeps its surname.
NAMES = [("李四", "李某"), ("王小明", "王某"), ("张伟", "张某"), ("陈静", "陈某"), ("刘建国", "刘某"), ("赵敏", "赵某")]
MOBILES = [
    ("13912340000", PHONE),
    ("13800138000", PHONE),
    ("139 1234 5678", PHONE),
    ("+86 15023456789", PHONE),
    ("18623001234", PHONE),
]
LANDLINES = [("023-41401234", PHONE), ("(023)41401234", PHONE), ("02341401234", PHONE), ("0871-65123456", PHONE)]
IDS = [("500227201001011234", ID), ("11010519491231002X", ID), ("110105491231002", ID), ("53010219800101123x", ID)]
CARDS = [("6222021234567890123", CARD), ("6222 0212 3456 7890", CARD), ("6217-0031-2345-6789", CARD)]
MAILS = [("tip@example.cn", MAIL), ("zhang.wei@school.edu.cn", MAIL), ("jubao+2026@163.com", MAIL)]

# (template, slot kinds in order). `{}` marks each slot.
TEMPLATES: list[tuple[str, tuple[str, ...]]] = [
    ("家长{}反映学校作业总量偏多，经核查属实。", ("name",)),
    ("举报人{}来电反映课后服务收费问题。", ("name",)),
    ("经查，教师{}存在有偿补课行为，已责令学校严肃处理。", ("name",)),
    ("学生{}在课间活动中受伤，学校未及时报告。", ("name",)),
    ("联系人{}，联系电话{}。", ("name", "mobile")),
    ("如有疑问，请联系负责人{}，电话{}。", ("name", "landline")),
    ("校长{}对整改工作负总责。", ("name",)),
    ("班主任{}未按规定家访。", ("name",)),
    ("投诉人{}反映食堂卫生问题，督导组已现场核实。", ("name",)),
    ("监护人{}签字确认。", ("name",)),
    ("园长：{}，手机{}。", ("name", "mobile")),
    ("联系人：{}（手机{}）", ("name", "mobile")),
    ("经办人{}，办公电话{}", ("name", "landline")),
    ("当事人{}的身份证号码为{}。", ("name", "id")),
    ("学生{}，身份证{}，已转学。", ("name", "id")),
    ("请将补助资金转入家长{}的银行卡{}。", ("name", "card")),
    ("受理邮箱：{}", ("mail",)),
    ("举报请发邮件至{}或拨打{}。", ("mail", "landline")),
    ("整改情况可咨询{}。", ("mobile",)),
    ("我校已完成整改，电话{}。", ("mobile",)),
    ("现将整改结果公示，监督电话{}。", ("landline",)),
    ("申请人{}提交了身份证复印件，号码{}。", ("name", "id")),
    ("受害人{}已得到妥善安置，联系方式{}。", ("name", "mobile")),
    ("副校长{}分管安全工作，未履行检查职责。", ("name",)),
    ("老师{}因体罚学生被通报批评。", ("name",)),
    ("学生家长{}于11月3日来访。", ("name",)),
    ("联系人{}，邮箱{}。", ("name", "mail")),
    ("报销款已打入{}账户。", ("card",)),
    ("涉事教师{}的联系电话{}已登记。", ("name", "mobile")),
    ("负责人：{}；电话：{}；邮箱：{}", ("name", "landline", "mail")),
    ("根据举报人{}提供的线索（电话{}），督导组进行了核查。", ("name", "mobile")),
    ("幼儿{}入园体检材料不全。", ("name",)),
    ("家长{}（身份证号{}）申请复核。", ("name", "id")),
    ("学校未公示收费标准，家长{}多次投诉。", ("name",)),
    ("经核实，教师{}、教师{}均存在违规补课。", ("name", "name")),
    ("请家长{}于一周内到校办理手续，咨询电话{}。", ("name", "landline")),
    ("联系人{}", ("name",)),
    ("电话：{}", ("mobile",)),
    ("身份证：{}", ("id",)),
    ("开户账号：{}", ("card",)),
]

# Sentences with nothing personal: they must come out exactly as they went in.
PLAIN = [
    "璧山区2026年秋季学期综合督导共抽查学校12所，发现问题37个。",
    "学校代码5001200001的青岚小学已完成消防通道清理。",
    "根据渝教督〔2026〕12号文件要求，各校于2026年11月30日前完成自查。",
    "全区投入资金1200万元改善薄弱学校办学条件。",
    "学生数1236人，专任教师86人，师生比14.4:1。",
    "督导组于10月8日至10日开展实地督导。",
    "整改期限为30日，逾期未整改的将下发督办单。",
    "校长负责制落实不到位，学校安全管理制度不健全。",
    "老师反映课后服务时间过长，学校已调整作息时间。",
    "家长委员会参与了食堂管理的监督。",
    "教师队伍结构不合理，35岁以下教师占比不足20%。",
    "学生体质健康测试优良率为52.3%，低于全市平均水平。",
    "全县义务教育学校校际差异系数小学为0.42，初中为0.38。",
    "本次督导覆盖乡镇中心校9所、村小23所。",
    "举报受理后15个工作日内反馈处理结果。",
    "请各学校负责同志按时参加培训。",
    "学校负责人须在整改报告上签字。",
    "联系人及电话见附件。",
    "2026年度责任督学挂牌督导实现全覆盖。",
    "政府督学、责任督学共计48人参与评估。",
    "共发放调查问卷2350份，回收有效问卷2287份。",
    "学校建筑面积15600平方米，生均12.6平方米。",
    "高级职称教师比例为18.5%。",
    "第三季度开展专项督导3次。",
    "县财政预算内教育经费增长8.2%。",
    "学校图书馆藏书45000册，生均36册。",
    "督学编号BS-001至BS-048已备案。",
    "11月20日上午9:00在区教委三楼会议室召开反馈会。",
    "统一社会信用代码12500227MB1234567X的民办学校已整改。",
    "邮政编码402760。",
]


def filled(template: str, kinds: tuple[str, ...], n: int) -> tuple[str, str, list[str]]:
    """The n-th filling of a template: (input, expected output, the personal values in the input)."""
    pools = {"name": NAMES, "mobile": MOBILES, "landline": LANDLINES, "id": IDS, "card": CARDS, "mail": MAILS}
    values = [pools[kind][(n + i) % len(pools[kind])] for i, kind in enumerate(kinds)]
    text, expected = template.format(*(v for v, _ in values)), template.format(*(e for _, e in values))
    return text, expected, [v for v, _ in values]


CORPUS = [filled(t, kinds, n) for (t, kinds), n in itertools.product(TEMPLATES, range(5))] + [(p, p, []) for p in PLAIN]


def test_the_corpus_is_large_enough_to_mean_something():
    assert len(CORPUS) >= 200 and len({text for text, _, _ in CORPUS}) >= 180


def test_precision_and_recall_on_the_corpus(capsys):
    hidden = shown = kept = broken = 0
    wrong = []
    for text, expected, personal in CORPUS:
        out = redact(text)
        for value in personal:
            if value in out:
                shown += 1
            else:
                hidden += 1
        if out == expected:
            kept += 1
        else:
            broken += 1
            wrong.append(f"{text!r} -> {out!r}, expected {expected!r}")
    recall = hidden / (hidden + shown)
    precision = kept / (kept + broken)
    with capsys.disabled():
        print(
            f"\nredaction corpus: {len(CORPUS)} sentences, {hidden + shown} personal values;"
            f" recall {recall:.3f}, precision {precision:.3f}"
        )
    assert not wrong, "\n".join(wrong[:10])
    assert (recall, precision) == (1.0, 1.0)
