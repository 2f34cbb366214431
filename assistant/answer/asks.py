"""What a question may ask, as the composer reads it: the item field each kind of ask is
answered from, and the wording that asks for several items, a list, the points of a part, or the
work of a domain."""

from __future__ import annotations

import re

FIELD_FOR_INTENT = {
    "amount": ("standard", "服务指导标准"),
    "eligibility": ("target", "服务对象"),
    "funding": ("funding", "支出责任"),
    "department": ("lead", "牵头负责单位"),
}
FIELD_FOR_ATTRIBUTE = {
    "服务对象": ("target", "服务对象"),
    "服务指导标准": ("standard", "服务指导标准"),
    "支出责任": ("funding", "支出责任"),
    "牵头负责单位": ("lead", "牵头负责单位"),
}
MONEY_QUESTION = re.compile(
    r"多少钱|多少元|几元|金额|具体.{0,4}多少|每[月年人].{0,6}多少|标准是多少|补贴多少|发多少"
)
HAS_FIGURE = re.compile(r"\d")
# a question asking for several items, a group of them, or the same of each of several
SEVERAL = re.compile(
    r"哪些|哪几|有什么|有啥|什么(?:服务|帮助|补贴|政策|待遇|项目)|啥(?:服务|帮助|补贴|政策|待遇|项目)"
    r"|能享受|可享受|可以享受|都有|都管(?:啥|什么|哪)|管(?:些|哪)(?:啥|什么|些)|相关(?:项|的?服务|的?政策|的?项目)"
)
DISTRIBUTIVE = re.compile(
    r"分别|各自|各(?:是|有|为|项|由|给|归|管|负责|多少|要|需|属|找|出|领|享受|什么|啥)"
    r"|[两俩二三仨四五]\s*[项样种类](?!人)|这[俩仨]|两者|二者"
)
# what lists items inside one clause: 、 and the conjunctions (a comma separates clauses)
ENUMERATION = re.compile(r"[、和与及跟]|以及")
CLAUSES = re.compile(r"[，,。；;！!？?\s]+")
NAMING_IDF = 4.0
TERSE, TERSE_PART = 30, 10  # a hotline lookup: "孤儿 困境儿童 留守儿童 支出责任"
# asking for the points of a part as a whole, and a numbered point's head ("1.注重保障基本。")
ASKS_POINTS = re.compile(r"哪几|哪些|几个方面|几条|几点|包括什么|包括哪|有什么|有哪|都有啥|是什么")
# a follow-up asking who carries out the work of the conversation's domain ("这个领域的任务
# 谁牵头", "这一块儿的活儿哪个局挑头"): 附件2 gives one task per domain
ASKS_DOMAIN_TASK = re.compile(
    r"领域.{0,12}(?:牵头|挑头|负责|落实)"
    r"|(?:这块|这一块|那块|这方面|这个方面).{0,12}(?:任务|活儿?).{0,8}(?:牵头|挑头|负责|落实)"
)
# asking what a box lists as a whole ("都有啥", "包括哪些", "列了几项")
ASKS_LIST = re.compile(r"哪些|哪几|包括|都有(?:啥|什么|哪)|有什么|有啥|列表|列了|几项|多少项")
POINT = re.compile(r"\s*(\d{1,2})[.．、]\s*([^。；：:]{2,24})[。；：:]")
QUOTED = re.compile(r"[“\"「『‘][^”\"」』’]*[”\"」』’]")
GENERIC_IDF = 2.5  # words in more than ~8 % of the chunks (服务, 政府, 免费, 提供) name nothing
# how Chinese words for kinds of people end (老年人, 劳动者, 人员, 儿童, 学生, 孕产妇, 农户, 职工)
PERSON_ENDINGS = set("人者员童生妇户儿工民属")
CLAUSE_SPLIT = re.compile(r"(?<=[。；！？\n])|(?<=，)(?=[^，。；]{6,})")
