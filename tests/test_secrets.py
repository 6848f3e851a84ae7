"""Secret references are resolved at preview/up time: every missing one named at once, no value ever shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from meshinstall.errors import UsageError
from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.state.secrets import resolve


def test_every_missing_secret_is_named_and_no_value_is_shown(tmp_path):
    spec_path = tmp_path / "dev.yaml"
    spec_path.write_text(
        (ROOT / "environments" / "dev.yaml").read_text().replace("extends: base.yaml", f"extends: {_base(tmp_path)}")
    )
    spec = load_spec(spec_path)
    with pytest.raises(UsageError) as missing:
        resolve(spec, {"CHECKOUT_DB_PASSWORD": "db-secret-value"})
    message = str(missing.value)
    assert "$.monitoring.grafana.adminPassword: environment variable GRAFANA_ADMIN_PASSWORD is not set" in message
    assert "db-secret-value" not in message


def test_an_unreadable_secret_file_is_a_clear_error_not_a_traceback(tmp_path):
    (tmp_path / "grafana.bin").write_bytes(b"\xff\xfe\x00binary")
    prometheus = "monitoring:\n  prometheus: {retention: 2d, storage: 5Gi}\n"
    text = (ROOT / "environments" / "dev.yaml").read_text().replace("extends: base.yaml", f"extends: {_base(tmp_path)}")
    assert prometheus in text
    spec_path = tmp_path / "dev.yaml"
    spec_path.write_text(text.replace(prometheus, prometheus + "  grafana: {adminPassword: {fromFile: grafana.bin}}\n"))
    spec = load_spec(spec_path)
    with pytest.raises(UsageError) as missing:
        resolve(spec, {"CHECKOUT_DB_PASSWORD": "x"})
    assert f"$.monitoring.grafana.adminPassword: {tmp_path / 'grafana.bin'} is not UTF-8 text" in str(missing.value)


def test_the_state_backends_password_comes_from_its_reference_and_an_empty_one_is_named(tmp_path):
    from meshinstall.stacks.state.secrets import state_password

    spec_path = tmp_path / "dev.yaml"
    text = (ROOT / "environments" / "dev.yaml").read_text().replace("extends: base.yaml", f"extends: {_base(tmp_path)}")
    spec_path.write_text(
        text.replace(
            "backend: file://.meshinstall/state",
            'backend: "postgres://ops@db:5432/platform"\n  password: {fromEnv: STATE_DB_PASSWORD}',
        )
    )
    spec = load_spec(spec_path)
    assert state_password(spec, {"STATE_DB_PASSWORD": "s3cret"}) == "s3cret"
    with pytest.raises(UsageError, match=r"\$.state.password: environment variable STATE_DB_PASSWORD is empty"):
        state_password(spec, {"STATE_DB_PASSWORD": ""})
    assert state_password(load_spec(ROOT / "environments" / "dev.yaml")) is None, (
        "no reference: libpq's own variables apply"
    )


def _base(folder: Path) -> str:
    """The repository's base.yaml copied beside a spec in `folder` (a spec extends only files of its repository)."""
    shutil.copy(ROOT / "environments" / "base.yaml", folder / "base.yaml")
    return "base.yaml"
