"""Published text loses ID numbers, phone numbers, e-mail addresses and people's names."""

from __future__ import annotations

import pytest

from dudao.privacy import redact

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("家长王小明反映作业过多", "家长王某反映作业过多"),
        ("学生李华，身份证500227201001011234", "学生李某，身份证[身份证号已隐去]"),
        ("举报人张伟电话13800138000", "举报人张某电话[电话已隐去]"),
        ("联系023-41401234或 tip@example.cn", "联系[电话已隐去]或 [邮箱已隐去]"),
        ("教师陈静的师德问题", "教师陈某的师德问题"),
        ("学校作业总量超标，未公示", "学校作业总量超标，未公示"),  # nothing personal: unchanged
        ("老师反映课后服务时间过长", "老师反映课后服务时间过长"),  # 反 is no surname: not a name
    ],
)
def test_personal_data_is_removed_from_published_text(text, expected):
    assert redact(text) == expected


def test_known_names_are_removed_wherever_they_stand():
    assert redact("欧阳娜娜同学多次缺课", names=["欧阳娜娜"]) == "欧某同学多次缺课"


def test_a_name_running_into_the_next_word_is_still_removed():
    assert redact("反映教师陈静体罚学生") == "反映教师陈某体罚学生"
