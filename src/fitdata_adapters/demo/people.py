"""Made-up people for the demo gym: Hebrew and English names, Israeli phones, profiles.

Every name comes as a (Hebrew, English) pair so an Israeli member can be shown in Hebrew
while the email address stays ASCII. Nothing here touches the database.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import attrs

EMAIL_DOMAIN = "demo-gym.example"

# (Hebrew, English, gender)
FIRST_NAMES: tuple[tuple[str, str, str], ...] = (
    ("נועה", "Noa", "female"),
    ("תמר", "Tamar", "female"),
    ("מאיה", "Maya", "female"),
    ("שירה", "Shira", "female"),
    ("יעל", "Yael", "female"),
    ("מיכל", "Michal", "female"),
    ("רוני", "Roni", "female"),
    ("הילה", "Hila", "female"),
    ("ליאור", "Lior", "female"),
    ("עדי", "Adi", "female"),
    ("אביגיל", "Avigail", "female"),
    ("דנה", "Dana", "female"),
    ("אורית", "Orit", "female"),
    ("קרן", "Keren", "female"),
    ("ענבל", "Inbal", "female"),
    ("שני", "Shani", "female"),
    ("גלית", "Galit", "female"),
    ("רותם", "Rotem", "female"),
    ("איילת", "Ayelet", "female"),
    ("סיון", "Sivan", "female"),
    ("יונתן", "Yonatan", "male"),
    ("איתי", "Itay", "male"),
    ("עומר", "Omer", "male"),
    ("דניאל", "Daniel", "male"),
    ("אורי", "Uri", "male"),
    ("נדב", "Nadav", "male"),
    ("גיא", "Guy", "male"),
    ("אלון", "Alon", "male"),
    ("יובל", "Yuval", "male"),
    ("אריאל", "Ariel", "male"),
    ("עידו", "Ido", "male"),
    ("רועי", "Roee", "male"),
    ("אסף", "Asaf", "male"),
    ("משה", "Moshe", "male"),
    ("דוד", "David", "male"),
    ("אבי", "Avi", "male"),
    ("שחר", "Shahar", "male"),
    ("תומר", "Tomer", "male"),
    ("ניר", "Nir", "male"),
    ("אמיר", "Amir", "male"),
)

LAST_NAMES: tuple[tuple[str, str], ...] = (
    ("כהן", "Cohen"),
    ("לוי", "Levi"),
    ("מזרחי", "Mizrahi"),
    ("פרץ", "Peretz"),
    ("ביטון", "Biton"),
    ("דהן", "Dahan"),
    ("אברהם", "Avraham"),
    ("פרידמן", "Friedman"),
    ("אזולאי", "Azoulay"),
    ("כץ", "Katz"),
    ("יוסף", "Yosef"),
    ("מלכה", "Malka"),
    ("חדד", "Hadad"),
    ("גבאי", "Gabay"),
    ("שפירא", "Shapira"),
    ("אוחיון", "Ohayon"),
    ("רוזנברג", "Rosenberg"),
    ("בן דוד", "Ben David"),
    ("גולדברג", "Goldberg"),
    ("שלום", "Shalom"),
    ("אשכנזי", "Ashkenazi"),
    ("ברק", "Barak"),
    ("סגל", "Segal"),
    ("וקנין", "Vaknin"),
)

# Members who write their names in English (newcomers, tourists on long stays, expats).
ENGLISH_FIRST_NAMES: tuple[tuple[str, str], ...] = (
    ("Emily", "female"),
    ("Sarah", "female"),
    ("Rachel", "female"),
    ("Hannah", "female"),
    ("Olivia", "female"),
    ("Jessica", "female"),
    ("Michael", "male"),
    ("Benjamin", "male"),
    ("Jacob", "male"),
    ("Samuel", "male"),
    ("Nathan", "male"),
    ("Ethan", "male"),
)
ENGLISH_LAST_NAMES: tuple[str, ...] = (
    "Smith",
    "Goldstein",
    "Miller",
    "Brown",
    "Weiss",
    "Klein",
    "Green",
    "Rubin",
    "Fisher",
    "Stern",
)

CITIES: tuple[tuple[str, str], ...] = (
    ("תל אביב-יפו", "Tel Aviv-Yafo"),
    ("רמת גן", "Ramat Gan"),
    ("גבעתיים", "Givatayim"),
    ("חולון", "Holon"),
    ("בת ים", "Bat Yam"),
    ("הרצליה", "Herzliya"),
)

_MOBILE_PREFIXES = ("050", "052", "053", "054", "058")


@attrs.frozen
class Person:
    """One made-up person: display name (Hebrew or English), ASCII email, local phone."""

    first_name: str
    last_name: str
    email: str
    phone: str
    gender: str
    birth_date: date
    city: str


class PeopleFactory:
    """Makes distinct people from a seeded random source (same seed, same people)."""

    def __init__(self, rng: random.Random, *, domain: str = EMAIL_DOMAIN) -> None:
        self._rng = rng
        self._domain = domain
        self._emails: set[str] = set()

    def _email(self, first: str, last: str) -> str:
        local = f"{first}.{last}".lower().replace(" ", "")
        email = f"{local}@{self._domain}"
        counter = 1
        while email in self._emails:
            counter += 1
            email = f"{local}{counter}@{self._domain}"
        self._emails.add(email)
        return email

    def _phone(self) -> str:
        prefix = self._rng.choice(_MOBILE_PREFIXES)
        return f"{prefix}-{self._rng.randrange(1_000_000, 10_000_000)}"

    def _birth_date(self, today: date) -> date:
        age_days = self._rng.randrange(18 * 365, 66 * 365)
        return today - timedelta(days=age_days)

    def make(self, today: date) -> Person:
        """A new person; about three in four have a Hebrew display name."""
        rng = self._rng
        hebrew_city, english_city = rng.choice(CITIES)
        if rng.random() < 0.75:
            first_he, first_en, gender = rng.choice(FIRST_NAMES)
            last_he, last_en = rng.choice(LAST_NAMES)
            return Person(
                first_name=first_he,
                last_name=last_he,
                email=self._email(first_en, last_en),
                phone=self._phone(),
                gender=gender,
                birth_date=self._birth_date(today),
                city=hebrew_city,
            )
        first, gender = rng.choice(ENGLISH_FIRST_NAMES)
        last = rng.choice(ENGLISH_LAST_NAMES)
        return Person(
            first_name=first,
            last_name=last,
            email=self._email(first, last),
            phone=self._phone(),
            gender=gender,
            birth_date=self._birth_date(today),
            city=english_city,
        )

    def reserve(self, email: str) -> None:
        """Keep ``email`` (a fixed demo login) from being handed to a made-up person."""
        self._emails.add(email)
