"""Every environment variable settings.py reads is documented in README.md and .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def variables_read(settings_source: str) -> set[str]:
    return set(re.findall(r"""\benv_[a-z]+\(\s*["']([A-Z][A-Z0-9_]*)["']""", settings_source))


def readme_table_variables(readme: str) -> set[str]:
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", readme, flags=re.MULTILINE))


def env_example_variables(example: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_it_finds_every_kind_of_env_call():
    source = 'A = env_str("NAME_A")\nB = env_bool(\n    "NAME_B", False)\nC = env_int("NAME_C", 3)'
    assert variables_read(source) == {"NAME_A", "NAME_B", "NAME_C"}
    assert {"DATABASE_URL", "DEBUG", "SECRET_KEY"} <= variables_read(read("vetted/settings.py"))


def test_the_readme_table_lists_every_variable_settings_reads():
    missing = variables_read(read("vetted/settings.py")) - readme_table_variables(read("README.md"))
    assert not missing, f"Add these to README.md's configuration table: {sorted(missing)}"


def test_env_example_lists_every_variable_settings_reads():
    missing = variables_read(read("vetted/settings.py")) - env_example_variables(
        read(".env.example")
    )
    assert not missing, f"Add these to .env.example: {sorted(missing)}"
