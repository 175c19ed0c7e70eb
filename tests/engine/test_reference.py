"""Tests for the reference data loaders (departments, roles, matter catalog R-6.1.3.1)."""

import shutil
from pathlib import Path

import pytest

from engine.reference import ReferenceData, ReferenceDataError, clear_cache
from engine.settings import PROJECT_ROOT, Settings
from tests.support.db import suite_settings

reference = suite_settings().reference

DEPARTMENTS = {
    "minzheng": "民政局",
    "yibao": "医保局",
    "jiaoyu": "教育局",
    "canlian": "残联",
    "zhujian": "住建局",
    "renshe": "人社局",
    "hongshizihui": "红十字会",
    "zonggonghui": "总工会",
    "sifa": "司法局",
    "yingji": "应急管理局",
}

ROLES = {
    "clerk": "窗口工作人员",
    "center": "县社会救助中心",
    "joint_office": "社会救助联席会议办公室",
    "department": "县主管部门经办人",
    "field": "乡镇(街道)/村(社区)经办人",
    "designer": "流程设计",
    "admin": "系统管理员",
    "analyst": "数据分析",
    "integration": "12345平台接口账号",
}

MATTER_FIELDS = {
    "code",
    "name",
    "department",
    "recipients",
    "procedure",
    "content",
    "materials",
    "basis",
    "due_workdays",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped data files."""
    for name in ("departments.yaml", "roles.yaml", "matters.yaml"):
        shutil.copy(PROJECT_ROOT / "data" / name, tmp_path / name)
    return tmp_path


def library(directory: Path) -> ReferenceData:
    """The reference data of `directory`, as RELIEF_DATA_DIR would select it."""
    return Settings.from_environ({"RELIEF_DATA_DIR": str(directory)}).reference


def test_departments_have_the_ten_codes_with_chinese_names() -> None:
    """The shipped department list is exactly the ten linkage departments, named in Chinese."""
    assert {code: dept["zh"] for code, dept in reference.departments().items()} == DEPARTMENTS


def test_every_department_and_role_has_an_english_name() -> None:
    """Each department and role carries a non-empty English name beside the Chinese one."""
    entries = [*reference.departments().values(), *reference.roles().values()]
    assert all(entry["en"].strip() for entry in entries)


def test_roles_have_the_nine_codes_with_chinese_names() -> None:
    """The shipped role list is exactly the nine back-office roles, named in Chinese."""
    assert {code: role["zh"] for code, role in reference.roles().items()} == ROLES


def test_matter_catalog_has_sixteen_complete_rows() -> None:
    """The starting catalog holds the 16 matters of DOMAIN.md, each with every catalog field."""
    matters = reference.matters()
    assert len(matters) == 16
    assert all(set(matter) == MATTER_FIELDS for matter in matters.values())
    assert all(code == matter["code"] for code, matter in matters.items())


def test_matters_point_at_known_departments() -> None:
    """Every matter's implementing department is one of the department codes."""
    assert {matter["department"] for matter in reference.matters().values()} <= set(DEPARTMENTS)


@pytest.mark.parametrize(
    ("name", "department", "due_workdays"),
    [
        ("最低生活保障", "minzheng", 30),
        ("特困人员供养", "minzheng", 40),
        ("临时救助", "minzheng", 15),
        ("医疗救助", "yibao", None),
        ("法律援助", "sifa", 10),
        ("红十字人道救助", "hongshizihui", 20),
        ("受灾人员救助", "yingji", None),
    ],
)
def test_matter_departments_and_time_limits(name: str, department: str, due_workdays: int | None) -> None:
    """Matters carry DOMAIN.md's department and typical time limit, null where none is given."""
    by_name = {matter["name"]: matter for matter in reference.matters().values()}
    assert by_name[name]["department"] == department
    assert by_name[name]["due_workdays"] == due_workdays


def test_loaders_are_cached() -> None:
    """Repeated calls return the same parsed object instead of re-reading the file."""
    assert reference.matters() is reference.matters()


def test_data_dir_env_overrides_location(data_dir: Path) -> None:
    """RELIEF_DATA_DIR makes the loaders read another directory."""
    (data_dir / "roles.yaml").write_text("- {code: auditor, zh: 审计, en: Auditor}\n", encoding="utf-8")
    assert list(library(data_dir).roles()) == ["auditor"]


def test_clear_cache_rereads_edited_file(data_dir: Path) -> None:
    """After clear_cache an edited file is read again."""
    assert "clerk" in library(data_dir).roles()
    (data_dir / "roles.yaml").write_text("- {code: auditor, zh: 审计, en: Auditor}\n", encoding="utf-8")
    clear_cache()
    assert list(library(data_dir).roles()) == ["auditor"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- code: minzheng\n  zh: [unclosed\n", "YAML 格式错误"),
        ("minzheng: 民政局\n", "顶层应为列表"),
        ("- just a string\n", "应为键值映射"),
        ("- {code: MinZheng, zh: 民政局, en: Civil Affairs}\n", "code 无效"),
        ("- {code: minzheng, en: Civil Affairs}\n", "缺少字段 zh"),
        ("- {code: minzheng, zh: '', en: Civil Affairs}\n", "zh 应为非空文本"),
        (
            "- {code: minzheng, zh: 民政局, en: A}\n- {code: minzheng, zh: 民政, en: B}\n",
            "code 重复：minzheng",
        ),
    ],
)
def test_malformed_departments_file_names_the_file(data_dir: Path, content: str, expected: str) -> None:
    """Malformed content raises ReferenceDataError naming the file and the problem."""
    (data_dir / "departments.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=expected) as info:
        library(data_dir).departments()
    assert "departments.yaml" in str(info.value)


def test_missing_file_is_a_reference_data_error(data_dir: Path) -> None:
    """A missing data file raises ReferenceDataError naming it, not a bare OSError."""
    (data_dir / "roles.yaml").unlink()
    with pytest.raises(ReferenceDataError, match="roles.yaml"):
        library(data_dir).roles()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("department: sifa", "department: fayuan", "不是已知部门代码：fayuan"),
        ("due_workdays: 10", "due_workdays: true", "due_workdays 应为非负整数或 null"),
        ("due_workdays: 10", "due_workdays: -1", "due_workdays 应为非负整数或 null"),
        ("  materials: []", "  materials: 无", "materials 应为文本列表"),
    ],
)
def test_malformed_matter_is_refused(data_dir: Path, old: str, new: str, expected: str) -> None:
    """A matter with an unknown department or a bad field type raises an error naming matters.yaml."""
    path = data_dir / "matters.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ReferenceDataError, match=expected) as info:
        library(data_dir).matters()
    assert "matters.yaml" in str(info.value)
