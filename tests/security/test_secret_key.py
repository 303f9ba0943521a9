"""The secret key file: made once with mode 0600, reused, and one key when processes race."""

from __future__ import annotations

import multiprocessing
import stat
import threading
from pathlib import Path

import pytest

from trapline.security.secret_key import SecretKeyError, load_or_create_secret

RACE_FILES = 20


def test_created_once_with_mode_0600_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    key = load_or_create_secret(path)
    assert len(key) == 32
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert path.read_text().strip() == key.hex()
    assert load_or_create_secret(path) == key
    assert path.stat().st_ino == info.st_ino and path.stat().st_mtime_ns == info.st_mtime_ns
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]  # no temporary left


def test_each_new_file_gets_its_own_key(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_a_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    load_or_create_secret(path)
    path.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_or_create_secret(path)


@pytest.mark.parametrize("content", [b"", b"abc\n", b"zz" * 32, ("ab" * 16).encode(), b"\xff" * 64])
def test_a_corrupt_file_is_refused_not_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(SecretKeyError, match="corrupt"):
        load_or_create_secret(path)
    assert path.read_bytes() == content


def test_a_symlink_or_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "real.key"
    load_or_create_secret(target)
    link = tmp_path / "secret.key"
    link.symlink_to(target)
    with pytest.raises(SecretKeyError):
        load_or_create_secret(link)
    (tmp_path / "folder").mkdir(mode=0o700)
    with pytest.raises(SecretKeyError):
        load_or_create_secret(tmp_path / "folder")


def test_an_unusable_folder_is_a_secret_key_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SecretKeyError, match="secret key"):
        load_or_create_secret(tmp_path / "file" / "secret.key")


def test_threads_racing_agree_on_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    results: list[list[bytes]] = [[] for _ in range(8)]

    def worker(index: int) -> None:
        barrier.wait()
        for n in range(RACE_FILES):
            results[index].append(load_or_create_secret(tmp_path / f"{n}.key"))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(RACE_FILES):
        assert len({keys[n] for keys in results}) == 1
    assert len(list(tmp_path.iterdir())) == RACE_FILES


def race(folder: str, barrier, results) -> None:
    barrier.wait(timeout=60)  # both processes imported and ready: go together
    results.put([load_or_create_secret(Path(folder) / f"{n}.key").hex()
                 for n in range(RACE_FILES)])


def test_two_processes_racing_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=race, args=(str(tmp_path), barrier, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    try:
        first, second = results.get(timeout=60), results.get(timeout=60)
    finally:
        for process in processes:
            process.join(timeout=30)
    assert all(process.exitcode == 0 for process in processes)
    assert first == second
    assert [load_or_create_secret(tmp_path / f"{n}.key").hex() for n in range(RACE_FILES)] == first
    assert len(set(first)) == RACE_FILES
    assert len(list(tmp_path.iterdir())) == RACE_FILES
