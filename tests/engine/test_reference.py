"""Tests for the reference data loaders (departments, roles, assistance types); the matter catalog,
which lives in the database, is tested in test_catalog."""

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

@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped data files."""
    for name in ("departments.yaml", "roles.yaml", "matters.yaml", "assistance_types.yaml"):
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


def test_loaders_are_cached() -> None:
    """Repeated calls return the same parsed object instead of re-reading the file."""
    assert reference.departments() is reference.departments()


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
