"""Issue 28, item 3: a full disk never turns a success into a failure. The state backend's own checks and retention,
on small file systems made for each test (a tmpfs: mounting one needs root, as CI runs). The runs of `up` on a full
disk are in test_faults.py, on the fault suite's environment."""

from __future__ import annotations

import os

import pytest
from disks import fill, small_disk

from meshinstall.errors import StateBackendUnreachable
from meshinstall.stacks.state.backend import KEEP, MIN_FREE, FileBackend, beyond_retention

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs, which needs root (CI runs as root)"),
]


def test_a_first_update_on_a_3_mb_file_system_is_refused_before_it_starts(tmp_path):
    with small_disk(tmp_path / "state", "3m") as state:
        with pytest.raises(StateBackendUnreachable) as refused:
            FileBackend(state).check_writable("meshinstall", "dev")
    message = str(refused.value)
    assert f"has 3.0 MiB free, and an update writes up to {MIN_FREE / 2**20:.1f} MiB there" in message, message
    assert "free space there, or move state.backend; nothing was changed" in message


def test_a_full_state_folder_and_a_read_only_one_cannot_be_written(tmp_path):
    with small_disk(tmp_path / "full", "1m") as full:
        (full / ".pulumi").mkdir()
        fill(full / ".pulumi")
        with pytest.raises(StateBackendUnreachable, match=r"\.pulumi cannot be written \(No space left on device\)"):
            FileBackend(full).check_writable("meshinstall", "dev")
    with small_disk(tmp_path / "ro", "32m", "ro") as read_only:
        with pytest.raises(StateBackendUnreachable, match=r"cannot be written \(Read-only file system\)"):
            FileBackend(read_only).check_writable("meshinstall", "dev")


def test_room_for_three_copies_of_the_state_is_asked_for(tmp_path):
    """An update writes the state, its copy in the history and its backup: a 10 MB state needs 30 MB free."""
    with small_disk(tmp_path / "state", "40m") as folder:
        stacks = folder / ".pulumi" / "stacks" / "meshinstall"
        stacks.mkdir(parents=True)
        (stacks / "dev.json").write_bytes(b"x" * 10 * 2**20)
        FileBackend(folder).check_writable("meshinstall", "dev")  # 30 MB free: enough
        (folder / "other").write_bytes(b"x" * 5 * 2**20)
        with pytest.raises(StateBackendUnreachable, match=r"an update writes up to 30\.0 MiB there"):
            FileBackend(folder).check_writable("meshinstall", "dev")
        assert not list(folder.rglob(".meshinstall-write-check-*")), "the probe is removed"


def test_history_and_backups_keep_the_documented_number_of_entries(tmp_path):
    history = tmp_path / ".pulumi" / "history" / "meshinstall" / "dev"
    backups = tmp_path / ".pulumi" / "backups" / "meshinstall" / "dev"
    history.mkdir(parents=True)
    backups.mkdir(parents=True)
    stamps = [1_790_000_000_000_000_000 + i * 1_000_000_000 for i in range(130)]
    for stamp in stamps:
        (history / f"dev-{stamp}.history.json").write_text("{}")
        (history / f"dev-{stamp}.checkpoint.json").write_text("{}")
        (backups / f"dev.{stamp}.json").write_text("{}")
    # another stack's files beside them (a team's stack is `dev.<team>`) are not this stack's
    (backups / f"dev.payments.{stamps[0]}.json").write_text("{}")

    removed = FileBackend(tmp_path).prune("meshinstall", "dev")

    newest = stamps[::-1]
    assert sorted(p.name for p in history.glob("*.history.json")) == sorted(
        f"dev-{s}.history.json" for s in newest[: KEEP["history"]]
    )
    assert sorted(p.name for p in history.glob("*.checkpoint.json")) == sorted(
        f"dev-{s}.checkpoint.json" for s in newest[: KEEP["checkpoint"]]
    )
    assert {p.name for p in backups.iterdir()} == {f"dev.{s}.json" for s in newest[: KEEP["backup"]]} | {
        f"dev.payments.{stamps[0]}.json"
    }
    assert removed == (130 - KEEP["history"]) + (130 - KEEP["checkpoint"]) + (130 - KEEP["backup"])


def test_retention_reads_the_engine_names_of_a_postgresql_backend_too():
    keys = [f"db/.pulumi/history/meshinstall/dev/dev-{i:019d}.history.json" for i in range(1, 103)]
    keys += [f"db/.pulumi/backups/meshinstall/dev/dev.{i:019d}.json.gz" for i in range(1, 13)]
    doomed = beyond_retention(keys, "dev")
    assert doomed == [keys[1], keys[0], keys[103], keys[102]], doomed
