"""Tests for citizen ID / phone checks and personal-data masking (R-6.4.3)."""

from datetime import date, timedelta

import pytest

from engine.access.personal_data import (
    id_check_char,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    validate_id_number,
    validate_phone,
)

VALID_ID = "34052419800101001X"


def _with_check_char(first17: str) -> str:
    """Complete 17 digits into an ID number whose check character is right."""
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("first17", "check"),
    [("34052419800101001", "X"), ("11010519491231002", "X"), ("44052418800101001", "4")],
)
def test_check_char_matches_known_examples(first17: str, check: str) -> None:
    """The weighted mod-11 check reproduces the check character of published valid numbers."""
    assert id_check_char(first17) == check


# Sequence -> check character for 32028119800101xxx; the weighted sum of 001 is 192 (192 % 11 = 5 -> "7"),
# and each step of the last digit adds 2 to the sum, so the eleven rows cover every remainder 0-10.
EVERY_REMAINDER = {
    "004": "1",
    "018": "0",
    "005": "X",
    "019": "9",
    "006": "8",
    "001": "7",
    "007": "6",
    "002": "5",
    "008": "4",
    "003": "3",
    "009": "2",
}


@pytest.mark.parametrize(("sequence", "check"), sorted(EVERY_REMAINDER.items()))
def test_every_check_character_is_mapped(sequence: str, check: str) -> None:
    """Each of the eleven remainders maps to its GB 11643 character, and only that one validates."""
    first17 = "32028119800101" + sequence
    assert id_check_char(first17) == check
    assert validate_id_number(first17 + check) is None
    wrong = "0" if check != "0" else "1"
    assert validate_id_number(first17 + wrong) == "身份证号码校验位不正确，请核对号码"


@pytest.mark.parametrize(
    "number",
    [VALID_ID, "34052419800101001x", " 340524 19800101 001X ", "３４０５２４１９８００１０１００１Ｘ"],
)
def test_valid_id_number_is_accepted(number: str) -> None:
    """A correct ID passes, also with lowercase x, spaces or full-width characters."""
    assert validate_id_number(number) is None


def test_normalize_id_number() -> None:
    """Normalising strips spaces, converts full-width characters and upper-cases the x."""
    assert normalize_id_number(" 340524 19800101 001x") == VALID_ID
    assert normalize_id_number("３４０５２４１９８００１０１００１ｘ") == VALID_ID


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("340524198001010010", "身份证号码校验位不正确，请核对号码"),
        ("340524198001010011", "身份证号码校验位不正确，请核对号码"),
        ("34052419800101001", "身份证号码应为18位，当前为17位"),
        ("34052419800101001X1", "身份证号码应为18位，当前为19位"),
        ("340524800101001", "身份证号码应为18位，当前为15位"),
        ("", "身份证号码不能为空"),
        ("3405241980010100AX", "身份证号码前17位应为数字"),
        ("34052419800101001Y", "身份证号码最后一位应为数字或X"),
        (_with_check_char("04052419800101001"), "身份证号码的地区代码无效"),
        (_with_check_char("34052419800230001"), "身份证号码中的出生日期无效：19800230"),
        (_with_check_char("34052419801301001"), "身份证号码中的出生日期无效：19801301"),
        (_with_check_char("34052418991231001"), "身份证号码中的出生日期不能早于1900年"),
    ],
)
def test_invalid_id_number_is_refused(number: str, message: str) -> None:
    """Each kind of malformed ID number gets its own Chinese message."""
    assert validate_id_number(number) == message


def test_future_birth_date_is_refused() -> None:
    """A birth date after today is refused even when the check character is right."""
    tomorrow = date.today() + timedelta(days=1)
    number = _with_check_char("340524" + tomorrow.strftime("%Y%m%d") + "001")
    assert validate_id_number(number) == "身份证号码中的出生日期不能晚于今天"


def test_today_parameter_sets_the_reference_date() -> None:
    """The same number is valid or future-dated depending on the date it is checked against."""
    number = _with_check_char("34052420200102001")
    assert validate_id_number(number, today=date(2020, 1, 2)) is None
    assert validate_id_number(number, today=date(2020, 1, 1)) == "身份证号码中的出生日期不能晚于今天"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("32028119800101123X", "320281********123X"),
        ("34052419800101001x", "340524********001X"),
        ("320281800101123", "320281*****1123"),
        ("12345", "1***5"),
        ("", ""),
    ],
)
def test_mask_id_number(number: str, masked: str) -> None:
    """ID numbers keep the first 6 and last 4 characters; odd input is still mostly hidden."""
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("138 0013 8000", "138****8000"),
        ("+8613800138000", "+86138****8000"),
        ("025-83001234", "025-****1234"),
        ("0510-86001234", "0510-****1234"),
        ("02583001234", "025****1234"),
        ("83001234", "****1234"),
        ("12345", "***45"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    """Mobiles show 3 + 4 digits, landlines keep the area code, short numbers hide all but the end."""
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧***"), ("李", "*"), (" 王五 ", "王*")],
)
def test_mask_name(name: str, masked: str) -> None:
    """Names keep only their first character, as on public notices (张*)."""
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("江苏省无锡市江阴市澄江街道人民路1号", "江苏省无锡市江阴市澄江街道*****"),
        ("江阴市周庄镇山泉村18组6号", "江阴市周庄镇********"),
        ("江苏省镇江市丹徒区高资街道高资村88号", "江苏省镇江市丹徒区高资街道******"),
        ("河南省新乡市红旗区向阳镇王村", "河南省新乡市红旗区向阳镇**"),
        ("山西省临汾市乡宁县昌宁镇东村3号", "山西省临汾市乡宁县昌宁镇****"),
        ("南京市鼓楼区中山路1号", "南京市鼓楼区*****"),
        ("人民路1号", "人民路**"),
    ],
)
def test_mask_address(address: str, masked: str) -> None:
    """Addresses show only down to the township, not mistaking 镇江/新乡/乡宁 for one; else 6 characters."""
    assert mask_address(address) == masked


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "19912345678",
        "+86 138 0013 8000",
        "138-0013-8000",
        "025-83001234",
        "0510-86001234",
        "02583001234",
        "(025)83001234",
        "010-62001234-801",
    ],
)
def test_valid_phone_is_accepted(phone: str) -> None:
    """Mainland mobiles and landlines with an area code pass."""
    assert validate_phone(phone) is None


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("", "联系电话不能为空"),
        ("12800138000", "手机号码格式不正确，应为以13–19开头的11位数字"),
        ("1380013800", "手机号码格式不正确，应为以13–19开头的11位数字"),
        ("138001380001", "手机号码格式不正确，应为以13–19开头的11位数字"),
        ("83001234", "联系电话格式不正确，应为11位手机号码或带区号的固定电话（如 025-83001234）"),
        ("025-03001234", "联系电话格式不正确，应为11位手机号码或带区号的固定电话（如 025-83001234）"),
        ("电话138", "联系电话格式不正确，应为11位手机号码或带区号的固定电话（如 025-83001234）"),
    ],
)
def test_invalid_phone_is_refused(phone: str, message: str) -> None:
    """Malformed numbers get a Chinese message that says what a valid number looks like."""
    assert validate_phone(phone) == message
