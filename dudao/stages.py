"""School stages (学段), which schools, inspectors and their copies in every service speak of: a rule of the policy
documents, so in the kernel, not in one service that the others would import."""

from __future__ import annotations

from dudao.rules import Labelled


class Stage(Labelled):
    """School stage (学段). Nine-year, twelve-year and complete secondary schools span stages."""

    kindergarten = "kindergarten", "幼儿园"
    primary = "primary", "小学"
    junior_secondary = "junior_secondary", "初级中学"
    senior_secondary = "senior_secondary", "高级中学"
    nine_year = "nine_year", "九年一贯制学校"
    twelve_year = "twelve_year", "十二年一贯制学校"
    complete_secondary = "complete_secondary", "完全中学"
    secondary_vocational = "secondary_vocational", "中等职业学校"
    special_education = "special_education", "特殊教育学校"


# Compulsory education (义务教育): the schools routine visits must cover and balanced development assesses.
COMPULSORY_STAGES = ["primary", "junior_secondary", "nine_year", "twelve_year", "complete_secondary"]
