"""The words of the inspector domain: employment, kinds, focus, status, exit reasons, training, grades, ties."""

from __future__ import annotations

from dudao.rules import Labelled


class Employment(Labelled):
    """Whether an inspector works full-time (专职) or part-time (兼职) as an inspector."""

    full_time = "full_time"
    part_time = "part_time"


Employment.LABELS = {"full_time": "专职", "part_time": "兼职"}  # type: ignore[attr-defined]


class InspectorRole(Labelled):
    """The kinds of inspector an inspector can be at once (DOMAIN §2)."""

    government = "government"
    responsible = "responsible"
    listed = "listed"
    subject = "subject"
    assessment_expert = "assessment_expert"
    chief = "chief"


InspectorRole.LABELS = {  # type: ignore[attr-defined]
    "government": "政府督学",
    "responsible": "责任督学",
    "listed": "挂牌督学",
    "subject": "学科督学",
    "assessment_expert": "评估专家",
    "chief": "首席督学",
}


class Focus(Labelled):
    """What an inspector supervises: governments (督政), schools (督学) or both."""

    governments = "governments"
    schools = "schools"
    both = "both"


Focus.LABELS = {"governments": "督政", "schools": "督学", "both": "督政与督学"}  # type: ignore[attr-defined]


class Status(Labelled):
    nominated = "nominated"
    appointed = "appointed"
    filed = "filed"
    active = "active"
    suspended = "suspended"
    exited = "exited"


Status.LABELS = {  # type: ignore[attr-defined]
    "nominated": "提名",
    "appointed": "已聘任",
    "filed": "已备案",
    "active": "在岗",
    "suspended": "暂停",
    "exited": "已退出",
}


class ExitReason(Labelled):
    """Why an inspector left: term ended, resigned, or dismissed for one of three causes (000 §16, 001 §13)."""

    term_ended = "term_ended"
    resigned = "resigned"
    dismissed_assessed_unqualified = "dismissed_assessed_unqualified"
    dismissed_failed_duties = "dismissed_failed_duties"
    dismissed_broke_law_or_discipline = "dismissed_broke_law_or_discipline"


ExitReason.LABELS = {  # type: ignore[attr-defined]
    "term_ended": "任期届满",
    "resigned": "辞任",
    "dismissed_assessed_unqualified": "解聘:考核不合格",
    "dismissed_failed_duties": "解聘:未按规定履职",
    "dismissed_broke_law_or_discipline": "解聘:违法违纪",
}


class TrainingKind(Labelled):
    pre_service = "pre_service"
    in_service = "in_service"


TrainingKind.LABELS = {"pre_service": "上岗培训", "in_service": "在岗培训"}  # type: ignore[attr-defined]


class Grade(Labelled):
    """Annual performance assessment (实绩考核) grade."""

    excellent = "excellent"
    qualified = "qualified"
    unqualified = "unqualified"


Grade.LABELS = {"excellent": "优秀", "qualified": "合格", "unqualified": "不合格"}  # type: ignore[attr-defined]


class TieKind(Labelled):
    """A declared tie to a unit that forbids inspecting it (回避)."""

    former_employer = "former_employer"
    relative = "relative"
    own_school = "own_school"
    other = "other"


TieKind.LABELS = {"former_employer": "原工作单位", "relative": "亲属关系", "own_school": "本人所在学校", "other": "其他利害关系"}  # type: ignore[attr-defined]
