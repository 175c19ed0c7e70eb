"""Personal data (R-6.4.3): citizen ID and phone checks, and masking for display and public notices."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

# GB 11643-1999 check character: weights for the first 17 digits, and sum mod 11 -> character.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)

_MOBILE_RE = re.compile(r"(?:\+86|0086)?1[3-9]\d{9}")
# Area codes: 010 and 02x have three digits, all others four; so a code is unambiguous without a hyphen.
_AREA = r"0(?:[12]\d|[3-9]\d{2})"
# Local numbers have 7–8 digits and never start with 0 or 1; an extension may follow.
_LANDLINE_RE = re.compile(rf"(?:{_AREA}-?|\({_AREA}\))[2-9]\d{{6,7}}(?:-\d{{1,6}})?")
_AREA_SPLIT_RE = re.compile(rf"(\(?{_AREA}\)?-?)(.+)")

# A township-level unit (乡镇/街道) ends a prefix that is safe to show; everything below it identifies a home.
_TOWNSHIP_RE = re.compile(r"街道|镇|乡")
_ADMIN_SUFFIXES = "省市区县州旗盟"
_ADDRESS_FALLBACK_KEEP = 6


def _compact(text: str) -> str:
    # NFKC turns full-width digits and letters (common from Chinese IMEs) into ASCII.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def normalize_id_number(s: str) -> str:
    """Return the ID number without whitespace, in half-width characters, with an upper-case X."""
    return _compact(s).upper()


def id_check_char(first17: str) -> str:
    """Return the GB 11643-1999 check character for the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def _birth_date_error(digits: str, today: date) -> str | None:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return f"身份证号码中的出生日期无效：{digits}"
    if born > today:
        return "身份证号码中的出生日期不能晚于今天"
    if born < _EARLIEST_BIRTH:
        return "身份证号码中的出生日期不能早于1900年"
    return None


def validate_id_number(s: str, *, today: date | None = None) -> str | None:
    """Check a citizen ID number (GB 11643-1999); return a Chinese error message, or None if valid."""
    number = normalize_id_number(s or "")
    if not number:
        return "身份证号码不能为空"
    if len(number) != 18:
        return f"身份证号码应为18位，当前为{len(number)}位"
    if not number[:17].isascii() or not number[:17].isdigit():
        return "身份证号码前17位应为数字"
    if number[17] not in "0123456789X":
        return "身份证号码最后一位应为数字或X"
    if number[0] == "0":
        return "身份证号码的地区代码无效"
    date_error = _birth_date_error(number[6:14], today or date.today())
    if date_error:
        return date_error
    if id_check_char(number[:17]) != number[17]:
        return "身份证号码校验位不正确，请核对号码"
    return None


def _mask_middle(text: str, head: int, tail: int) -> str:
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail :]


def mask_id_number(s: str) -> str:
    """Mask an ID number for display, keeping the first 6 and last 4 characters."""
    number = normalize_id_number(s)
    if len(number) > 10:
        return _mask_middle(number, 6, 4)
    # Malformed short input: still hide most of it rather than show it whole.
    return _mask_middle(number, 1, 1) if len(number) > 2 else "*" * len(number)


def _mask_digits(number: str) -> str:
    if len(number) >= 11:
        return _mask_middle(number, 3, 4)
    if len(number) >= 7:
        return _mask_middle(number, 0, 4)
    return _mask_middle(number, 0, 2) if len(number) > 2 else "*" * len(number)


def mask_phone(s: str) -> str:
    """Mask a phone number: 138****8000 for mobiles, 025-****1234 for landlines."""
    number = _compact(s)
    if number.startswith("+86"):
        return "+86" + mask_phone(number[3:])
    landline = _AREA_SPLIT_RE.fullmatch(number)
    if landline and len(number) > 7:
        # The area code says only the city; keep it so staff know what kind of number it is.
        area, local = landline.groups()
        return area + _mask_digits(local)
    return _mask_digits(number)


def mask_name(s: str) -> str:
    """Mask a personal name for public notices, keeping the first character: 张三 -> 张*."""
    name = s.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def _township_end(address: str) -> int | None:
    """Return the index just after the first township-level unit (乡/镇/街道), if any."""
    for match in _TOWNSHIP_RE.finditer(address):
        before = address[match.start() - 1] if match.start() else ""
        after = address[match.end() : match.end() + 1]
        # 镇江市, 新乡市, 乡宁县: the character starts or ends a city/county name, not a township.
        if not before or before in _ADMIN_SUFFIXES or after in ("市", "县", "区"):
            continue
        return match.end()
    return None


def mask_address(s: str) -> str:
    """Mask an address below the township (乡镇/街道) level, or after its first 6 characters."""
    address = s.strip()
    keep = _township_end(address)
    if keep is None:
        # A short address must not be shown almost whole: keep at most half of it, rounded up.
        keep = min(_ADDRESS_FALLBACK_KEEP, (len(address) + 1) // 2)
    return address[:keep] + "*" * (len(address) - keep)


_EMAIL_RE = re.compile(r"([^\s@]+)@([^\s@]+)")
_NUMBER_RE = re.compile(r"\+?\d[\d\-\s]{5,}\d")


def mask_contact(s: str) -> str:
    """Mask free-text contact details (意见簿, 异议): every phone number and e-mail in it, else all but the
    first character (a name, a WeChat id …)."""
    text = s.strip()
    masked = _NUMBER_RE.sub(lambda m: mask_phone(m.group(0)), text)
    masked = _EMAIL_RE.sub(lambda m: f"{m.group(1)[:1]}***@{m.group(2)}", masked)
    return masked if masked != text else mask_name(text)


def validate_phone(s: str) -> str | None:
    """Check a mainland mobile or landline number; return a Chinese error message, or None if valid."""
    number = _compact(s or "")
    if not number:
        return "联系电话不能为空"
    if _MOBILE_RE.fullmatch(number.replace("-", "")) or _LANDLINE_RE.fullmatch(number):
        return None
    if number.lstrip("+").startswith(("1", "861", "00861")):
        return "手机号码格式不正确，应为以13–19开头的11位数字"
    return "联系电话格式不正确，应为11位手机号码或带区号的固定电话（如 025-83001234）"


def masked_applicant(name: str, id_number: str | None, phone: str | None,
                     address: str | None) -> dict[str, str | None]:
    """The applicant's personal data masked for every view, export and API (R-6.4.3): one shape."""
    return {
        "name": mask_name(name or ""),
        "id_number": mask_id_number(id_number or "") if id_number else "",
        "phone": mask_phone(phone or "") if phone else "",
        "address": mask_address(address) if address else None,
    }


# Keys whose values are personal data wherever they appear in workflow or task data.
_MASKERS = {
    "id_number": mask_id_number, "phone": mask_phone, "mobile": mask_phone, "address": mask_address,
    "applicant_name": mask_name, "name_of_applicant": mask_name,
}


def mask_data(value: Any) -> Any:
    """A copy of workflow/task data with personal data masked wherever its key names it."""
    if isinstance(value, Mapping):
        return {k: (_MASKERS[k](str(v)) if k in _MASKERS and isinstance(v, str) else mask_data(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    return value
