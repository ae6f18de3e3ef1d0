"""Deterministic demo data for a flower and gift shop chain (`manage.py seed_demo`).

Every member is drawn from its own `random.Random(f"{seed}:{index}")`, so the same seed gives
the same names, phones, birthdays, purchases and amounts whatever the batch size. Times are
placed before the start of the current day (Asia/Shanghai), so two runs on the same day match
to the second.

Rows are written with `bulk_create` in batches inside one transaction (all or nothing), the
purchases through the loyalty hook (`members.loyalty.record_purchases`: with `rewards`, in bulk
and earning points, so balances, tiers and ledgers are real); phone,
email and birthday go through `members.services.apply_contact_data` and the numbers through
`members.services.new_member_numbers`, so encryption, lookup hashes and numbering are exactly
the services' own. Purchases are spread over a normal background with peaks before Valentine's
day, Qixi, Mother's day and the Spring festival.
"""

from __future__ import annotations

import datetime
import math
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from loyalty_crm import roles
from members import loyalty, services
from members.models import (
    Category,
    Consent,
    ConsentEvent,
    ConsentSource,
    ConsentTopic,
    Interaction,
    Member,
    PaymentMethod,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    SalesChannel,
    ServiceRecord,
    StaffProfile,
    Store,
    Tag,
)

DEFAULT_SEED = 2024
DEFAULT_MEMBERS = 2000
ADMIN_URL = "http://127.0.0.1:8000/admin/"
HISTORY_REASON = "seed_demo"
YEARS_OF_HISTORY = 3

# --- the shop ---------------------------------------------------------------------------------

# code, name, city, address, phone, weight (share of members who call it home)
STORES = [
    ("sh-jingan", "上海静安寺店", "上海", "上海市静安区南京西路1601号", "021-62880101", 16),
    ("sh-xintiandi", "上海新天地店", "上海", "上海市黄浦区马当路245号", "021-63850202", 14),
    ("bj-sanlitun", "北京三里屯店", "北京", "北京市朝阳区三里屯路19号", "010-64160303", 14),
    ("bj-guomao", "北京国贸店", "北京", "北京市朝阳区建国门外大街1号", "010-65050404", 12),
    ("hz-xihu", "杭州西湖店", "杭州", "杭州市上城区湖滨路28号", "0571-87010505", 11),
    ("cd-chunxi", "成都春熙路店", "成都", "成都市锦江区春熙路南段8号", "028-86660606", 11),
    ("gz-tianhe", "广州天河店", "广州", "广州市天河区天河路208号", "020-38830707", 11),
    ("sz-nanshan", "深圳南山店", "深圳", "深圳市南山区海德三道126号", "0755-86080808", 11),
]

CATEGORIES = [
    ("bouquets", "鲜花花束"),
    ("roses", "玫瑰"),
    ("carnations", "康乃馨"),
    ("lilies", "百合"),
    ("green-plants", "绿植"),
    ("new-year-flowers", "年宵花"),
    ("preserved", "永生花"),
    ("gift-boxes", "礼盒"),
    ("vases", "花瓶"),
    ("cards", "贺卡"),
    ("accessories", "花艺配件"),
]

# sku, name, category code, price
PRODUCTS = [
    ("FB-SUN", "向日葵花束", "bouquets", "168.00"),
    ("FB-GYPS", "满天星花束", "bouquets", "138.00"),
    ("FB-TULIP", "郁金香花束（10枝）", "bouquets", "228.00"),
    ("FB-HYDR", "绣球花束", "bouquets", "198.00"),
    ("FB-PEONY", "芍药花束（5枝）", "bouquets", "258.00"),
    ("FB-SEASON", "时令混搭花束", "bouquets", "158.00"),
    ("FB-BRIDAL", "婚礼手捧花", "bouquets", "588.00"),
    ("ROSE-11", "11枝红玫瑰花束", "roses", "199.00"),
    ("ROSE-19", "19枝红玫瑰花束", "roses", "329.00"),
    ("ROSE-33", "33枝红玫瑰花束", "roses", "520.00"),
    ("ROSE-99", "99枝红玫瑰花束", "roses", "1314.00"),
    ("ROSE-PK11", "11枝粉玫瑰花束", "roses", "219.00"),
    ("ROSE-CH19", "19枝香槟玫瑰花束", "roses", "369.00"),
    ("CARN-11", "11枝康乃馨花束", "carnations", "139.00"),
    ("CARN-19", "19枝康乃馨花束", "carnations", "199.00"),
    ("CARN-BSK", "康乃馨花篮", "carnations", "268.00"),
    ("LILY-06", "6枝香水百合花束", "lilies", "188.00"),
    ("LILY-BSK", "百合花篮", "lilies", "298.00"),
    ("PLANT-MONEY", "发财树（中盆）", "green-plants", "168.00"),
    ("PLANT-MONST", "龟背竹", "green-plants", "158.00"),
    ("PLANT-SUCC", "多肉组合盆栽", "green-plants", "68.00"),
    ("PLANT-POTHOS", "绿萝吊篮", "green-plants", "48.00"),
    ("PLANT-OLIVE", "橄榄树（大盆）", "green-plants", "398.00"),
    ("NY-ORCHID", "蝴蝶兰（5株）", "new-year-flowers", "388.00"),
    ("NY-KUMQ", "年桔（中盆）", "new-year-flowers", "268.00"),
    ("NY-BAMB", "富贵竹转运竹", "new-year-flowers", "88.00"),
    ("NY-WILLOW", "银柳（10枝）", "new-year-flowers", "58.00"),
    ("NY-CYMB", "大花蕙兰", "new-year-flowers", "328.00"),
    ("PRES-DOME", "永生玫瑰玻璃罩", "preserved", "328.00"),
    ("PRES-BEAR", "永生花礼盒（小熊款）", "preserved", "268.00"),
    ("PRES-FRAME", "永生绣球相框", "preserved", "198.00"),
    ("GIFT-CHOC", "玫瑰巧克力礼盒", "gift-boxes", "188.00"),
    ("GIFT-TEA", "花茶礼盒", "gift-boxes", "128.00"),
    ("GIFT-CANDLE", "香薰蜡烛礼盒", "gift-boxes", "158.00"),
    ("GIFT-CORP", "企业定制花礼", "gift-boxes", "888.00"),
    ("VASE-GLASS", "玻璃花瓶（直筒）", "vases", "68.00"),
    ("VASE-CERAM", "陶瓷花瓶（莫兰迪）", "vases", "128.00"),
    ("VASE-CRYS", "水晶花瓶", "vases", "268.00"),
    ("CARD-LOVE", "手写爱心贺卡", "cards", "10.00"),
    ("CARD-BDAY", "生日贺卡", "cards", "10.00"),
    ("CARD-THANKS", "感恩贺卡", "cards", "10.00"),
    ("CARD-NY", "新春贺卡", "cards", "12.00"),
    ("ACC-FRESH", "鲜花保鲜剂", "accessories", "15.00"),
    ("ACC-SHEARS", "园艺剪刀", "accessories", "45.00"),
    ("ACC-WRAP", "韩式包装纸套装", "accessories", "35.00"),
]

TAG_VIP = "VIP"
TAG_CORPORATE = "企业客户"
TAG_WEDDING = "婚礼客户"
TAG_WORKSHOP = "插花沙龙会员"
TAG_FESTIVE = "节日送礼"
TAGS = [TAG_VIP, TAG_CORPORATE, TAG_WEDDING, TAG_WORKSHOP, TAG_FESTIVE]

# --- the calendar -----------------------------------------------------------------------------

# Lunar holidays on their Gregorian dates.
QIXI = {
    2022: (8, 4),
    2023: (8, 22),
    2024: (8, 10),
    2025: (8, 29),
    2026: (8, 19),
    2027: (8, 8),
    2028: (8, 26),
    2029: (8, 16),
    2030: (8, 5),
}
SPRING_FESTIVAL = {
    2022: (2, 1),
    2023: (1, 22),
    2024: (2, 10),
    2025: (1, 29),
    2026: (2, 17),
    2027: (2, 6),
    2028: (1, 26),
    2029: (2, 13),
    2030: (2, 3),
}

BACKGROUND = "background"
VALENTINE = "valentine"
QIXI_DAY = "qixi"
MOTHERS_DAY = "mothers_day"
SPRING = "spring_festival"
OCCASION_WEIGHTS = {BACKGROUND: 45, VALENTINE: 16, QIXI_DAY: 10, MOTHERS_DAY: 14, SPRING: 15}
# Days bought before the holiday, and their weights.
LEAD_DAYS = {
    VALENTINE: ([0, 1, 2, 3], [50, 30, 12, 8]),
    QIXI_DAY: ([0, 1, 2, 3], [50, 30, 12, 8]),
    MOTHERS_DAY: ([0, 1, 2, 3, 4], [40, 30, 15, 10, 5]),
    SPRING: (list(range(1, 21)), [1 + (20 - d) // 4 for d in range(1, 21)]),
}
# What the first line of a purchase is, by occasion (category code: weight).
MAIN_CATEGORIES = {
    BACKGROUND: {
        "bouquets": 30,
        "roses": 14,
        "green-plants": 16,
        "lilies": 8,
        "carnations": 5,
        "preserved": 8,
        "gift-boxes": 8,
        "vases": 6,
        "accessories": 5,
    },
    VALENTINE: {"roses": 55, "bouquets": 15, "preserved": 15, "gift-boxes": 12, "lilies": 3},
    QIXI_DAY: {"roses": 55, "bouquets": 15, "preserved": 15, "gift-boxes": 12, "lilies": 3},
    MOTHERS_DAY: {"carnations": 50, "bouquets": 20, "lilies": 10, "gift-boxes": 10, "preserved": 10},
    SPRING: {"new-year-flowers": 60, "green-plants": 15, "gift-boxes": 15, "bouquets": 10},
}
CARD_FOR = {
    BACKGROUND: "CARD-BDAY",
    VALENTINE: "CARD-LOVE",
    QIXI_DAY: "CARD-LOVE",
    MOTHERS_DAY: "CARD-THANKS",
    SPRING: "CARD-NY",
}
ADD_ON_CATEGORIES = {"vases": 35, "accessories": 30, "gift-boxes": 25, "preserved": 10}


def mothers_day(year: int) -> datetime.date:
    """The second Sunday of May."""
    first = datetime.date(year, 5, 1)
    return first + datetime.timedelta(days=(6 - first.weekday()) % 7 + 7)


def holidays(start: datetime.date, end: datetime.date) -> dict[str, list[datetime.date]]:
    """Each occasion's dates in [start, end)."""
    found: dict[str, list[datetime.date]] = {VALENTINE: [], QIXI_DAY: [], MOTHERS_DAY: [], SPRING: []}
    for year in range(start.year, end.year + 1):
        candidates = {VALENTINE: datetime.date(year, 2, 14), MOTHERS_DAY: mothers_day(year)}
        if year in QIXI:
            candidates[QIXI_DAY] = datetime.date(year, *QIXI[year])
        if year in SPRING_FESTIVAL:
            candidates[SPRING] = datetime.date(year, *SPRING_FESTIVAL[year])
        for occasion, day in candidates.items():
            if start <= day < end:
                found[occasion].append(day)
    return found


# --- people -----------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ["欧阳", "司马", "上官", "诸葛", "东方"]
FEMALE_CHARS = "婷丽敏静娟燕芳霞秀玲雪琳颖欣悦怡佳萱晨雯洁倩璐瑶妍诗梦涵蕾菲薇蓉岚月露晶晓嘉心思雨可紫淑慧彤希"
MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁浩宇轩昊博文俊凯峰建志然哲晨睿翔航栋天嘉子泽一毅恒成健"
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "147", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180", "181",
    "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip
EMAIL_HANDLES = [
    "lily", "rose", "amy", "sunny", "coco", "kevin", "jack", "leo", "vivian", "cherry", "daisy",
    "grace", "tony", "eric", "luna", "xiaoyu", "meimei", "summer", "tiger", "echo", "yoyo", "fiona",
]  # fmt: skip
EMAIL_DOMAINS = {"163.com": 20, "126.com": 8, "gmail.com": 8, "outlook.com": 8, "foxmail.com": 6, "icloud.com": 10}
MEMBER_NOTES = [
    "喜欢白色系、淡雅的花束",
    "每年结婚纪念日订花",
    "送货请放公司前台",
    "对百合花粉过敏",
    "常给母亲订花",
    "偏好不带包装纸的简约款",
]
CORPORATE_NOTES = ["公司行政采购，需开具增值税发票", "企业客户：每周一更换前台花艺", "年会、开业花篮长期合作"]

# --- records ----------------------------------------------------------------------------------

COMPLAINTS = [
    ("花材到货时有部分花瓣受损", "已补送同款花束并致歉"),
    ("配送比约定时间晚了两小时", "已退还配送费并致歉"),
    ("花束与图片颜色差异较大", "已赠送保鲜剂和下次消费优惠"),
    ("贺卡内容写错了名字", "已重新手写贺卡并送达"),
]
CONSULTATIONS = ["开业花篮搭配咨询", "绿植养护咨询", "永生花保养咨询", "企业年会花艺布置咨询", "求婚场地布置咨询"]
REPAIRS = ["陶瓷花瓶口沿破损，送修补", "永生花玻璃罩碎裂，更换玻璃罩", "落地花架松动维修"]
INTERACTIONS = {
    Interaction.Kind.VISIT: [
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "到店挑选花束"),
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "到店取预订的花束"),
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "到店咨询绿植养护"),
    ],
    Interaction.Kind.CALL: [
        (Interaction.Channel.PHONE, Interaction.Direction.INBOUND, "电话预订节日花束"),
        (Interaction.Channel.PHONE, Interaction.Direction.INBOUND, "来电询问配送时间"),
        (Interaction.Channel.PHONE, Interaction.Direction.OUTBOUND, "节前订花提醒回访"),
        (Interaction.Channel.PHONE, Interaction.Direction.OUTBOUND, "购买后满意度回访"),
    ],
    Interaction.Kind.MESSAGE: [
        (Interaction.Channel.WECHAT, Interaction.Direction.INBOUND, "微信发来参考图片询问报价"),
        (Interaction.Channel.WECHAT, Interaction.Direction.INBOUND, "微信咨询花束款式和尺寸"),
        (Interaction.Channel.WECHAT, Interaction.Direction.OUTBOUND, "微信发送当季新品花束图片"),
        (Interaction.Channel.WECHAT, Interaction.Direction.OUTBOUND, "发送生日祝福"),
    ],
    Interaction.Kind.EVENT: [
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "参加插花沙龙"),
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "参加母亲节亲子花艺课"),
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "参加圣诞花环工作坊"),
        (Interaction.Channel.STORE, Interaction.Direction.INBOUND, "参加永生花DIY体验课"),
    ],
    Interaction.Kind.CAMPAIGN_RESPONSE: [
        (Interaction.Channel.WECHAT, Interaction.Direction.INBOUND, "回复情人节预订活动"),
        (Interaction.Channel.SMS, Interaction.Direction.INBOUND, "回复七夕预售短信"),
        (Interaction.Channel.WECHAT, Interaction.Direction.INBOUND, "领取会员日优惠券"),
    ],
}
INTERACTION_WEIGHTS = {
    Interaction.Kind.VISIT: 30,
    Interaction.Kind.CALL: 20,
    Interaction.Kind.MESSAGE: 30,
    Interaction.Kind.EVENT: 8,
    Interaction.Kind.CAMPAIGN_RESPONSE: 12,
}
COLOURS = ["红色", "粉色", "白色", "香槟色", "紫色", "黄色", "莫兰迪色系"]
STYLES = ["简约", "韩式", "法式", "田园风", "中式"]
CONTACT_TIMES = ["工作日晚上", "工作日午休", "周末上午", "周末下午", "任何时间"]
PREFERRED_CHANNELS = ["微信", "短信", "电话", "邮件"]
CUSTOM_PREFERENCES = [("过敏", "花粉过敏，不要百合"), ("署名", "送花不署名"), ("纪念日", "结婚纪念日 5月20日")]


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    role: str  # the group's name; "" for the superuser
    username: str
    password: str | None  # None: the account exists but its password is no longer the demo one
    exists: bool = True


@dataclass
class SeedCounts:
    stores: int = 0
    categories: int = 0
    products: int = 0
    members: int = 0
    purchases: int = 0
    purchase_items: int = 0
    service_records: int = 0
    interactions: int = 0
    preferences: int = 0
    consent_events: int = 0
    logins: list[DemoLogin] = field(default_factory=list)


# username, group (None: superuser), first name
DEMO_USERS = [
    ("admin", None, "系统管理员"),
    ("manager", roles.MANAGER, "陈静"),
    ("staff", roles.STORE_STAFF, "李娜"),
    ("marketing", roles.MARKETING, "王芳"),
    ("support", roles.SUPPORT, "张伟"),
]


def demo_password(username: str) -> str:
    """The published demo password of a demo account (never used in production: see seed_demo)."""
    return f"{username}-demo-520"


def ensure_demo_users() -> list[DemoLogin]:
    """Create the demo accounts that do not exist; existing accounts are left untouched."""
    User = get_user_model()
    logins = []
    for username, group, first_name in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=first_name, email=f"{username}@demo.invalid", is_staff=True)
            user.is_superuser = group is None
            user.set_password(demo_password(username))
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            logins.append(DemoLogin(group or "", username, demo_password(username)))
        else:
            logins.append(_login_of(user, group))
    return logins


def demo_logins() -> list[DemoLogin]:
    """The demo accounts as they are now (for `seed_demo --if-empty`); creates nothing."""
    User = get_user_model()
    users = {user.username: user for user in User.objects.filter(username__in=[u for u, _g, _n in DEMO_USERS])}
    logins = []
    for username, group, _name in DEMO_USERS:
        user = users.get(username)
        if user is None:
            logins.append(DemoLogin(group or "", username, None, exists=False))
        else:
            logins.append(_login_of(user, group))
    return logins


def _login_of(user, group: str | None) -> DemoLogin:
    password = demo_password(user.username)
    return DemoLogin(group or "", user.username, password if user.check_password(password) else None)


# --- the catalogue ----------------------------------------------------------------------------


@dataclass
class Catalogue:
    stores: list[Store]
    store_weights: list[int]
    categories: dict[str, Category]
    products: dict[str, Product]
    by_category: dict[str, list[Product]]
    tags: dict[str, Tag]


def ensure_catalogue() -> Catalogue:
    """Stores, categories, products and tags of the demo shop (existing rows are kept as they are)."""
    stores = []
    for code, name, city, address, phone, _weight in STORES:
        store, _created = Store.objects.get_or_create(
            code=code, defaults={"name": name, "city": city, "address": address, "phone": phone}
        )
        stores.append(store)
    categories = {
        code: Category.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in CATEGORIES
    }
    products: dict[str, Product] = {}
    by_category: dict[str, list[Product]] = {code: [] for code, _name in CATEGORIES}
    for sku, name, category, price in PRODUCTS:
        product, _created = Product.objects.get_or_create(
            sku=sku, defaults={"name": name, "category": categories[category], "unit_price": Decimal(price)}
        )
        products[sku] = product
        by_category[category].append(product)
    tags = {name: Tag.objects.get_or_create(name=name)[0] for name in TAGS}
    return Catalogue(stores, [s[-1] for s in STORES], categories, products, by_category, tags)


# --- generation -------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class _Plan:
    """One member as drawn from their own random stream, before it is written."""

    rng: random.Random
    name: str
    gender: str
    phone: str
    email: str | None
    birthday: datetime.date | None
    store_index: int
    registered_at: datetime.datetime
    source_channel: str
    status: str
    corporate: bool
    wedding: bool
    notes: str
    spend_rate: float  # purchases a year


class DemoGenerator:
    def __init__(self, *, seed: int, catalogue: Catalogue, users: dict[str, object]):
        self.seed = seed
        self.catalogue = catalogue
        self.users = users
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        today = timezone.localdate()
        # Everything happens before today began, so runs on the same day give identical rows.
        self.horizon = datetime.datetime.combine(today, datetime.time(0, 0), tzinfo=self.tz)
        self.first_day = today - datetime.timedelta(days=round(365.25 * YEARS_OF_HISTORY))
        self.phones: set[str] = set()
        self.earlier: list[tuple[int, datetime.datetime]] = []  # (pk, registered_at) of created members
        self.counts = SeedCounts()

    # -- time

    def _at(self, day: datetime.date, rng: random.Random) -> datetime.datetime:
        """A moment in opening hours (09:00–21:59) of a day."""
        return datetime.datetime.combine(day, datetime.time(rng.randint(9, 21), rng.randint(0, 59)), tzinfo=self.tz)

    def _between(self, rng: random.Random, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        """A moment in opening hours between two times (clamped to them)."""
        first = start.astimezone(self.tz).date()
        last = (end - datetime.timedelta(seconds=1)).astimezone(self.tz).date()
        day = first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days)))
        return min(max(self._at(day, rng), start), end - datetime.timedelta(minutes=1))

    # -- people

    def _phone(self, rng: random.Random) -> str:
        while True:
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def plan(self, index: int) -> _Plan:
        rng = random.Random(f"{self.seed}:{index}")
        gender = rng.choices([Member.Gender.FEMALE, Member.Gender.MALE, Member.Gender.UNKNOWN], weights=[62, 33, 5])[0]
        surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.01 else _surname(rng)
        chars = MALE_CHARS if gender == Member.Gender.MALE else FEMALE_CHARS
        given = "".join(rng.choice(chars) for _i in range(rng.choices([1, 2], weights=[3, 7])[0]))
        phone = self._phone(rng)
        email = None
        if rng.random() < 0.4:
            domain = rng.choices(["qq.com", *EMAIL_DOMAINS], weights=[35, *EMAIL_DOMAINS.values()])[0]
            if domain == "qq.com":
                email = f"{rng.randint(10**5, 3 * 10**9)}@qq.com"
            else:
                email = f"{rng.choice(EMAIL_HANDLES)}{rng.choice(['', '.', '_'])}{rng.randint(1, 9999)}@{domain}"
        birthday = None
        if rng.random() < 0.7:
            age = rng.randint(18, 68)
            birthday = datetime.date(self.horizon.year - age, 1, 1) + datetime.timedelta(days=rng.randint(0, 364))
        store_index = rng.choices(range(len(self.catalogue.stores)), weights=self.catalogue.store_weights)[0]
        first_moment = datetime.datetime.combine(self.first_day, datetime.time(), tzinfo=self.tz)
        registered_at = self._between(rng, first_moment, self.horizon)
        source_channel = rng.choices(
            [
                Member.SourceChannel.STORE,
                Member.SourceChannel.WECHAT,
                Member.SourceChannel.ONLINE,
                Member.SourceChannel.REFERRAL,
                Member.SourceChannel.EVENT,
                Member.SourceChannel.IMPORT,
            ],
            weights=[55, 20, 12, 5, 3, 5],
        )[0]
        corporate = rng.random() < 0.04
        wedding = rng.random() < 0.03
        notes = ""
        if corporate:
            notes = rng.choice(CORPORATE_NOTES)
        elif rng.random() < 0.1:
            notes = rng.choice(MEMBER_NOTES)
        segment = rng.random()
        spend_rate = 6.0 if segment < 0.2 else 2.0 if segment < 0.7 else 0.7
        if corporate:
            spend_rate *= 1.5
        return _Plan(
            rng=rng,
            name=surname + given,
            gender=gender,
            phone=phone,
            email=email,
            birthday=birthday,
            store_index=store_index,
            registered_at=registered_at,
            source_channel=source_channel,
            status=Member.Status.FROZEN if rng.random() < 0.01 else Member.Status.ACTIVE,
            corporate=corporate,
            wedding=wedding,
            notes=notes,
            spend_rate=spend_rate,
        )

    # -- writing

    def write_batch(self, start: int, count: int) -> None:
        plans = [self.plan(index) for index in range(start, start + count)]
        members = []
        for plan, (member_no, referral_code) in zip(plans, services.new_member_numbers(len(plans)), strict=True):
            member = Member(
                member_no=member_no,
                referral_code=referral_code,
                name=plan.name,
                gender=plan.gender,
                home_store=self.catalogue.stores[plan.store_index],
                status=plan.status,
                registered_at=plan.registered_at,
                source_channel=plan.source_channel,
                notes=plan.notes,
            )
            if plan.source_channel == Member.SourceChannel.IMPORT:
                member.external_id = "POS" + member_no[1:]
            if plan.source_channel == Member.SourceChannel.REFERRAL:
                member.referred_by_id = self._referrer(plan)
            services.apply_contact_data(member, phone=plan.phone, email=plan.email, birthday=plan.birthday)
            member._history_date = plan.registered_at
            members.append(member)
        self._free_phones(plans, members)
        bulk_create_with_history(members, Member, default_change_reason=HISTORY_REASON)
        self.earlier.extend((member.pk, member.registered_at) for member in members)
        self.counts.members += len(members)

        rows: dict[type, list] = {
            model: [] for model in (Consent, ConsentEvent, ServiceRecord, Interaction, Preference)
        }
        purchases: list[Purchase] = []
        items: list[PurchaseItem] = []
        tag_links = []
        for plan, member in zip(plans, members, strict=True):
            member_purchases, member_items = self._purchases(plan, member)
            purchases += member_purchases
            items += member_items
            self._consents(plan, member, rows)
            self._service_records(plan, member, member_purchases, member_items, rows)
            attended = self._interactions(plan, member, len(member_purchases), rows)
            self._preferences(plan, member, member_items, rows)
            tag_links += self._tags(plan, member, member_purchases, attended)
        # Through the loyalty hook: with `rewards` installed the purchases earn their points and
        # move tiers exactly as postings do (in bulk), so balances, tiers and ledgers are real.
        loyalty.record_purchases(self._drafts(purchases, items))
        for model, objects in rows.items():
            model.objects.bulk_create(objects)
        Member.tags.through.objects.bulk_create(tag_links)
        self.counts.purchases += len(purchases)
        self.counts.purchase_items += len(items)
        self.counts.consent_events += len(rows[ConsentEvent])
        self.counts.service_records += len(rows[ServiceRecord])
        self.counts.interactions += len(rows[Interaction])
        self.counts.preferences += len(rows[Preference])

    @staticmethod
    def _drafts(purchases: list[Purchase], items: list[PurchaseItem]) -> list[services.PurchaseDraft]:
        lines: dict[int, list[services.PurchaseLine]] = {id(purchase): [] for purchase in purchases}
        for item in items:
            lines[id(item.purchase)].append(
                services.PurchaseLine(
                    sku=item.sku,
                    quantity=item.quantity,
                    unit_price=item.unit_price,
                    name=item.name,
                    discount=item.discount,
                )
            )
        return [
            services.PurchaseDraft(
                member=purchase.member,
                external_ref=purchase.external_ref,
                ordered_at=purchase.ordered_at,
                items=lines[id(purchase)],
                store=purchase.store,
                channel=purchase.channel,
                payment_method=purchase.payment_method,
                total=purchase.total,
            )
            for purchase in purchases
        ]

    def _free_phones(self, plans: Sequence[_Plan], members: Sequence[Member]) -> None:
        """Redraw the phones that members outside this run already have (rare: only when not empty)."""
        while True:
            taken = set(
                Member.objects.filter(phone_hash__in=[m.phone_hash for m in members]).values_list(
                    "phone_hash", flat=True
                )
            )
            if not taken:
                return
            for plan, member in zip(plans, members, strict=True):
                if member.phone_hash in taken:
                    plan.phone = self._phone(plan.rng)
                    services.apply_contact_data(member, phone=plan.phone)

    def _referrer(self, plan: _Plan) -> int | None:
        for _attempt in range(3):
            if not self.earlier:
                return None
            pk, registered_at = self.earlier[plan.rng.randrange(len(self.earlier))]
            if registered_at < plan.registered_at:
                return pk
        return None

    def _purchase_moment(self, plan: _Plan, calendar: dict[str, list[datetime.date]]):
        rng = plan.rng
        occasion = _weighted(rng, OCCASION_WEIGHTS)
        if occasion != BACKGROUND and calendar[occasion]:
            day = rng.choice(calendar[occasion])
            days, weights = LEAD_DAYS[occasion]
            moment = self._at(day - datetime.timedelta(days=rng.choices(days, weights=weights)[0]), rng)
            if plan.registered_at <= moment < self.horizon:
                return occasion, moment
        return BACKGROUND, self._between(rng, plan.registered_at, self.horizon)

    def _purchases(self, plan: _Plan, member: Member) -> tuple[list[Purchase], list[PurchaseItem]]:
        rng = plan.rng
        years = (self.horizon - plan.registered_at).total_seconds() / (365.25 * 86400)
        count = min(_poisson(rng, plan.spend_rate * years), 40)
        if count == 0 and rng.random() < 0.6:
            count = 1  # most people join at a purchase
        calendar = holidays(plan.registered_at.astimezone(self.tz).date(), self.horizon.date())
        moments = []
        for index in range(count):
            if index == 0 and rng.random() < 0.6:
                joined = plan.registered_at + datetime.timedelta(minutes=rng.randint(2, 30))
                moments.append((BACKGROUND, min(joined, self.horizon - datetime.timedelta(minutes=1))))
            else:
                moments.append(self._purchase_moment(plan, calendar))
        moments.sort(key=lambda pair: pair[1])
        purchases, items = [], []
        home = self.catalogue.stores[plan.store_index]
        for number, (occasion, moment) in enumerate(moments, start=1):
            channel = rng.choices(
                [SalesChannel.STORE, SalesChannel.WECHAT, SalesChannel.ONLINE, SalesChannel.PHONE],
                weights=[58, 20, 15, 7],
            )[0]
            store = home if rng.random() < 0.8 else rng.choices(self.catalogue.stores, self.catalogue.store_weights)[0]
            lines = self._lines(rng, occasion, plan.corporate)
            subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
            line_discounts = sum((line.discount for line in lines), Decimal("0.00"))
            paid = subtotal - line_discounts
            if paid >= 300 and rng.random() < 0.3:
                paid -= Decimal("30.00")  # 满300减30
            purchase = Purchase(
                member=member,
                external_ref=f"D{member.member_no[1:]}-{number:02d}",
                store=store,
                channel=channel,
                payment_method=_payment(rng, channel),
                ordered_at=moment,
                subtotal=subtotal,
                discount_total=subtotal - paid,
                total=paid,
            )
            purchase.occasion = occasion  # for the records below; not a field
            for line in lines:
                line.purchase = purchase
            purchases.append(purchase)
            items += lines
        return purchases, items

    def _lines(self, rng: random.Random, occasion: str, corporate: bool) -> list[PurchaseItem]:
        by_category = self.catalogue.by_category
        chosen = [rng.choice(by_category[_weighted(rng, MAIN_CATEGORIES[occasion])])]
        for _extra in range(rng.choices([0, 1, 2, 3], weights=[55, 28, 12, 5])[0]):
            if rng.random() < 0.5:
                product = self.catalogue.products[CARD_FOR[occasion]]
            else:
                product = rng.choice(by_category[_weighted(rng, ADD_ON_CATEGORIES)])
            if product not in chosen:
                chosen.append(product)
        lines = []
        for index, product in enumerate(chosen):
            quantity = 1
            if index == 0 and corporate and rng.random() < 0.5:
                quantity = rng.randint(2, 20)
            elif product.category_id != self.catalogue.categories["cards"].pk and rng.random() < 0.08:
                quantity = 2
            gross = product.unit_price * quantity
            discount = (gross * Decimal("0.10")).quantize(Decimal("0.01")) if rng.random() < 0.15 else Decimal("0.00")
            lines.append(
                PurchaseItem(
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    category=product.category,
                    quantity=quantity,
                    unit_price=product.unit_price,
                    discount=discount,
                    line_total=gross - discount,
                )
            )
        return lines

    def _consents(self, plan: _Plan, member: Member, rows: dict) -> None:
        rng = plan.rng
        imported = plan.source_channel == Member.SourceChannel.IMPORT
        source = ConsentSource.IMPORT if imported else ConsentSource.ADMIN
        actor = None if imported else self.users["staff"]
        wanted = {
            ConsentTopic.DATA_PROCESSING: rng.random() < 0.97,
            ConsentTopic.MARKETING_SMS: rng.random() < 0.55,
            ConsentTopic.MARKETING_WECHAT: rng.random() < 0.6,
            ConsentTopic.MARKETING_EMAIL: bool(plan.email) and rng.random() < 0.5,
        }
        for topic, granted in wanted.items():
            at = plan.registered_at
            rows[ConsentEvent].append(
                ConsentEvent(member=member, topic=topic, granted=granted, at=at, actor=actor, source=source)
            )
            if granted and topic != ConsentTopic.DATA_PROCESSING and rng.random() < 0.08:
                at = self._between(rng, plan.registered_at, self.horizon)
                granted = False  # withdrawn later, at the desk
                rows[ConsentEvent].append(
                    ConsentEvent(
                        member=member,
                        topic=topic,
                        granted=False,
                        at=at,
                        actor=self.users["staff"],
                        source=ConsentSource.ADMIN,
                    )
                )
            rows[Consent].append(Consent(member=member, topic=topic, granted=granted, updated_at=at))

    def _service_status(self, rng: random.Random, opened_at: datetime.datetime, hours: tuple[int, int]):
        if self.horizon - opened_at < datetime.timedelta(days=14) and rng.random() < 0.6:
            return rng.choice([ServiceRecord.Status.OPEN, ServiceRecord.Status.IN_PROGRESS]), None
        closed_at = min(opened_at + datetime.timedelta(hours=rng.randint(*hours)), self.horizon)
        status = ServiceRecord.Status.CANCELLED if rng.random() < 0.04 else ServiceRecord.Status.DONE
        return status, closed_at

    def _service_records(self, plan, member, purchases, items, rows) -> None:
        rng = plan.rng
        support, staff = self.users["support"], self.users["staff"]
        first_item = {}
        for item in items:
            first_item.setdefault(id(item.purchase), item)

        def add(kind, summary, opened_at, store, person, details="", hours=(2, 72)):
            status, closed_at = self._service_status(rng, opened_at, hours)
            rows[ServiceRecord].append(
                ServiceRecord(
                    member=member,
                    kind=kind,
                    status=status,
                    store=store,
                    staff=person,
                    summary=summary,
                    details=details,
                    opened_at=opened_at,
                    closed_at=closed_at,
                )
            )

        for purchase in purchases:
            remote = purchase.channel != SalesChannel.STORE
            if rng.random() < (0.7 if remote else 0.12):
                item = first_item[id(purchase)]
                add(
                    ServiceRecord.Kind.DELIVERY,
                    f"配送：{item.name}",
                    purchase.ordered_at,
                    purchase.store,
                    staff,
                    details=f"由{purchase.store.name}配送，{purchase.store.city}市内当日达",
                    hours=(2, 8),
                )
            if rng.random() < 0.03:
                summary, resolution = rng.choice(COMPLAINTS)
                opened = min(purchase.ordered_at + datetime.timedelta(hours=rng.randint(3, 48)), self.horizon)
                add(ServiceRecord.Kind.COMPLAINT, summary, opened, purchase.store, support, details=resolution)
            item = first_item[id(purchase)]
            if item.category.code == "green-plants" and rng.random() < 0.05:
                opened = min(purchase.ordered_at + datetime.timedelta(days=rng.randint(3, 10)), self.horizon)
                add(
                    ServiceRecord.Kind.CARE_CLAIM,
                    f"{item.name}到家一周内叶片发黄",
                    opened,
                    purchase.store,
                    support,
                    details="按绿植养护承诺免费更换",
                )
        home = self.catalogue.stores[plan.store_index]
        if plan.wedding:
            for _i in range(rng.randint(1, 2)):
                opened = self._between(rng, plan.registered_at, self.horizon)
                add(ServiceRecord.Kind.CONSULTATION, "婚礼花艺方案咨询", opened, home, staff, hours=(1, 240))
        elif rng.random() < 0.04:
            opened = self._between(rng, plan.registered_at, self.horizon)
            add(ServiceRecord.Kind.CONSULTATION, rng.choice(CONSULTATIONS), opened, home, staff, hours=(1, 48))
        if rng.random() < 0.01:
            opened = self._between(rng, plan.registered_at, self.horizon)
            add(ServiceRecord.Kind.REPAIR, rng.choice(REPAIRS), opened, home, staff, hours=(24, 240))

    def _interactions(self, plan: _Plan, member: Member, purchase_count: int, rows: dict) -> int:
        rng = plan.rng
        home = self.catalogue.stores[plan.store_index]
        events = 0
        for _i in range(min(_poisson(rng, 1.0 + 0.25 * purchase_count), 12)):
            kind = _weighted(rng, INTERACTION_WEIGHTS)
            channel, direction, summary = rng.choice(INTERACTIONS[kind])
            events += kind == Interaction.Kind.EVENT
            rows[Interaction].append(
                Interaction(
                    member=member,
                    kind=kind,
                    channel=channel,
                    direction=direction,
                    summary=summary,
                    occurred_at=self._between(rng, plan.registered_at, self.horizon),
                    store=home if channel == Interaction.Channel.STORE else None,
                    staff=self.users["staff"] if direction == Interaction.Direction.OUTBOUND else None,
                )
            )
        return events

    def _preferences(self, plan: _Plan, member: Member, items: list[PurchaseItem], rows: dict) -> None:
        rng = plan.rng
        prefs = rows[Preference]
        if items and rng.random() < 0.55:
            favourite = Counter(item.category.code for item in items).most_common(1)[0][0]
            prefs.append(
                Preference(
                    member=member,
                    kind=Preference.Kind.FAVOURITE_CATEGORY,
                    category=self.catalogue.categories[favourite],
                )
            )
        if items and rng.random() < 0.15:
            prefs.append(Preference(member=member, kind=Preference.Kind.FAVOURITE_PRODUCT, product=items[0].product))
        for kind, values, share in (
            (Preference.Kind.COLOUR, COLOURS, 0.4),
            (Preference.Kind.STYLE, STYLES, 0.25),
            (Preference.Kind.CONTACT_TIME, CONTACT_TIMES, 0.35),
            (Preference.Kind.PREFERRED_CHANNEL, PREFERRED_CHANNELS if plan.email else PREFERRED_CHANNELS[:3], 0.35),
        ):
            if rng.random() < share:
                prefs.append(Preference(member=member, kind=kind, value=rng.choice(values)))
        if rng.random() < 0.08:
            key, value = rng.choice(CUSTOM_PREFERENCES)
            prefs.append(Preference(member=member, kind=Preference.Kind.CUSTOM, key=key, value=value))

    def _tags(self, plan: _Plan, member: Member, purchases: list[Purchase], events: int) -> list:
        tags = self.catalogue.tags
        names = []
        if sum((p.total for p in purchases), Decimal("0")) >= Decimal("5000"):
            names.append(TAG_VIP)
        if plan.corporate:
            names.append(TAG_CORPORATE)
        if plan.wedding:
            names.append(TAG_WEDDING)
        if events:
            names.append(TAG_WORKSHOP)
        if sum(p.occasion != BACKGROUND for p in purchases) >= 3:
            names.append(TAG_FESTIVE)
        through = Member.tags.through
        return [through(member_id=member.pk, tag_id=tags[name].pk) for name in names]


_SURNAME_WEIGHTS = [1 / (rank + 4) for rank in range(len(SURNAMES))]


def _surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]


def _payment(rng: random.Random, channel: str) -> str:
    if channel == SalesChannel.STORE:
        options = {
            PaymentMethod.WECHAT_PAY: 45,
            PaymentMethod.ALIPAY: 30,
            PaymentMethod.CARD: 12,
            PaymentMethod.CASH: 8,
            PaymentMethod.STORED_VALUE: 5,
        }
    elif channel == SalesChannel.WECHAT:
        options = {PaymentMethod.WECHAT_PAY: 90, PaymentMethod.STORED_VALUE: 10}
    else:
        options = {PaymentMethod.ALIPAY: 50, PaymentMethod.WECHAT_PAY: 45, PaymentMethod.CARD: 5}
    return _weighted(rng, options)


@transaction.atomic
def seed_demo(
    *,
    members: int = DEFAULT_MEMBERS,
    seed: int = DEFAULT_SEED,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> SeedCounts:
    """Create the demo shop, its staff logins and `members` members with their records (all or nothing).

    Member `i` (counting members already in the database, so a second run adds new people) is
    drawn from `random.Random(f"{seed}:{i}")`.
    """
    catalogue = ensure_catalogue()
    logins = ensure_demo_users()
    User = get_user_model()
    users = {user.username: user for user in User.objects.filter(username__in=["staff", "support"])}
    if "staff" in users:
        # The demo clerk works in the first store, so the dashboard shows that store's figures.
        StaffProfile.objects.get_or_create(user=users["staff"], defaults={"store": catalogue.stores[0]})
    generator = DemoGenerator(seed=seed, catalogue=catalogue, users=users)
    start = Member.objects.count()
    for offset in range(0, members, batch_size):
        count = min(batch_size, members - offset)
        generator.write_batch(start + offset, count)
        if progress:
            progress(count)
    counts = generator.counts
    counts.stores, counts.categories, counts.products = len(STORES), len(CATEGORIES), len(PRODUCTS)
    counts.logins = logins
    return counts
