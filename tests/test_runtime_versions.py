"""Course versions (issue 14, stateless nodes): every node serves the published content of a course.

Two app instances on one database stand for two nodes here (the pick-up by real ``localmooc serve``
processes is in test_runtime_versions_serve.py); each node has its own copy of the course folders, as two
machines would. On SQLite (a file) and PostgreSQL (a throwaway database)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from runtime_support import (
    COURSE_ID,
    PASSWORD,
    POST_RIGHT,
    ROOT,
    SAMPLE,
    Api,
    db_url,  # noqa: F401  (fixture)
    pg_database,  # noqa: F401  (fixture)
    test_secrets,
)

from localmooc_packager.runtime.services.versions import (
    CourseVersions,
    content_hash,
    pack,
    publish,
    unpack,
)
from localmooc_packager.runtime.storage import Store
from localmooc_packager.runtime.storage import versions as rows

OTHER = ROOT / "sample_courses" / "about-dla"
OTHER_ID = "about-dla"
CLI = Path(sys.executable).with_name("localmooc")


def node_folders(where: Path) -> Path:
    """One node's copy of the two courses (a folder of course folders, as `serve` takes)."""
    where.mkdir(parents=True)
    shutil.copytree(SAMPLE, where / COURSE_ID)
    shutil.copytree(OTHER, where / OTHER_ID)
    return where


def edit(folder: Path, old: str, new: str, name: str = "course.yaml") -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


FINAL_UNIT = "  - id: final\n"


def without_post_test(folder: Path) -> None:
    """Version 2 of the test: the intro text changed and the post-test unit removed."""
    edit(folder, "", "ฉบับปรับปรุง: ", "units/intro.md")
    edit(folder, "requires: [all-content, post-test]", "requires: [all-content]")
    text = (folder / "course.yaml").read_text(encoding="utf-8")
    cut = text.index(FINAL_UNIT)
    rest = text[cut + len(FINAL_UNIT) :]
    end = rest.find("\n  - ")  # the next unit, if any
    (folder / "course.yaml").write_text(text[:cut] + (rest[end + 1 :] if end >= 0 else ""), encoding="utf-8")


def node(folders: Path, url: str) -> Any:
    from localmooc_packager.runtime.app import create_app

    return create_app(folders, url, secrets=test_secrets(), versions=True)


def take_up(app: Any) -> list[str]:
    """One round of the node's poll (the process test lets the real one run)."""
    return asyncio.run(app.state.versions.poll_once())


def admin(app: Any, url: str) -> Api:
    from localmooc_packager.runtime.server import create_admin

    create_admin(url, "boss", "หัวหน้า", PASSWORD)
    a = Api(app)
    assert a.login("boss").json()["role"] == "admin"
    return a


# ---- the content hash and the archive


def test_content_hash_ignores_mtimes_and_place_and_sees_every_byte(tmp_path: Path) -> None:
    a = tmp_path / "a" / COURSE_ID
    shutil.copytree(SAMPLE, a)
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(SAMPLE, b, copy_function=shutil.copyfile)  # new mtimes, another path
    (b / ".git").mkdir()
    (b / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # hidden: not course content
    assert content_hash(a) == content_hash(b) == content_hash(SAMPLE)
    first, second = pack(a), pack(b)
    assert first.data == second.data and first.content_hash == content_hash(a)  # the same bytes everywhere
    assert first.files == sum(1 for p in SAMPLE.rglob("*") if p.is_file())
    edit(b, "hours: 3", "hours: 4")
    assert content_hash(b) != content_hash(a)
    (b / "course.yaml").rename(b / "course2.yaml")  # same bytes, another name
    assert content_hash(b) != content_hash(a)


def test_an_olx_course_imported_again_has_the_same_hash(tmp_path: Path) -> None:
    """`serve` imports OLX courses into a new folder at every start: the import must be byte for byte the
    same, or a restarted node would refuse its own course."""
    from localmooc_packager.importers.runtime import runtime_courses

    studio = ROOT / "tests" / "fixtures" / "studio" / "corpus"
    first = runtime_courses(studio, tmp_path / "one")
    second = runtime_courses(studio, tmp_path / "two")
    hashes = [sorted(content_hash(c.parent) for c in run.rglob("course.yaml")) for run in (first, second)]
    assert hashes[0] == hashes[1] and len(hashes[0]) >= 2


def test_a_published_archive_unpacks_to_the_published_content(tmp_path: Path) -> None:
    packed = pack(SAMPLE)
    unpack(packed.data, tmp_path / "out", packed.content_hash)
    assert content_hash(tmp_path / "out") == content_hash(SAMPLE)
    assert (tmp_path / "out" / "static" / "intro.mp4").read_bytes() == (
        SAMPLE / "static" / "intro.mp4"
    ).read_bytes()
    with pytest.raises(Exception, match="not the published"):
        unpack(packed.data, tmp_path / "again", "0" * 64)


# ---- two nodes on one database


def test_two_nodes_refuse_publish_and_follow_with_learner_state_kept(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    a_dir = node_folders(tmp_path / "node-a")
    b_dir = node_folders(tmp_path / "node-b")
    without_post_test(b_dir / COURSE_ID)

    # Node A is first: both courses become version 1.
    a = node(a_dir, db_url)
    assert a.state.versions.status() == {
        COURSE_ID: f"version 1 ({content_hash(SAMPLE)[:12]})",
        OTHER_ID: f"version 1 ({content_hash(OTHER)[:12]})",
    }
    learner = Api(a)
    learner.learner("somchai")
    assert learner.post(f"/api/courses/{COURSE_ID}/enrol").status_code == 200
    assert learner.post(f"/api/courses/{OTHER_ID}/enrol").status_code == 200
    assert learner.submit("post", POST_RIGHT).status_code == 200
    before = learner.get(f"/api/courses/{COURSE_ID}/progress").json()
    assert {q["id"]: q["score"] for q in before["quizzes"]}["post"] == 1.0

    # Node B starts with other content for one course: refused there, and says why; the other is served.
    b = node(b_dir, db_url)
    refusal = b.state.versions.refused[COURSE_ID]
    assert refusal.version == 1 and refusal.published_hash == content_hash(SAMPLE)
    assert refusal.local_hash == content_hash(b_dir / COURSE_ID)
    assert f"published version 1 is {content_hash(SAMPLE)[:12]}" in refusal.message()
    assert "localmooc publish" in refusal.message()
    on_b = Api(b)
    assert on_b.login("somchai").status_code == 200
    page = on_b.get(f"/courses/{COURSE_ID}/learn")
    assert page.status_code == 503
    assert "ไม่ตรงกับฉบับที่เผยแพร่" in page.text and "differs from the published version 1" in page.text
    api = on_b.get(f"/api/courses/{COURSE_ID}")
    assert api.status_code == 503 and api.json()["detail"] == "course_refused"
    assert "ฉบับที่ 1" in api.json()["message"]
    handler = on_b.submit("post", POST_RIGHT)  # the edge's own path for block handlers is gated too
    assert handler.status_code == 503 and handler.json()["detail"] == "course_refused"
    assert on_b.get(f"/api/courses/{OTHER_ID}").status_code == 200
    ready = on_b.get("/readyz").json()
    assert ready["status"] == "ok"
    assert ready["checks"]["courses"][COURSE_ID].startswith("refused: this node's content")
    assert ready["checks"]["courses"][OTHER_ID] == f"version 1 ({content_hash(OTHER)[:12]})"

    # The admin publishes node B's folder from node B's admin page: B serves it at once, A on its next poll.
    boss = admin(b, db_url)
    got = boss.get("/api/admin/versions")
    assert got.status_code == 200, got.text
    listed = {c["course_id"]: c for c in got.json()}
    assert listed[COURSE_ID]["state"] == "refused" and listed[COURSE_ID]["published"] == 1
    form = boss.client.post(
        f"/admin/versions/{COURSE_ID}", data={"csrf_token": boss.csrf["X-CSRFToken"]}, follow_redirects=False
    )
    assert form.status_code == 303 and form.headers["location"] == f"/admin/versions?done={COURSE_ID}:2:new"
    assert "ฉบับที่" in boss.get(f"/admin/versions?done={COURSE_ID}:2:new").text
    assert COURSE_ID not in b.state.versions.refused
    with b.state.store.read() as conn:
        from sqlalchemy import text

        audited = conn.execute(
            text("SELECT actor, target, detail FROM audit_log WHERE action = 'publish-version' ORDER BY id")
        ).all()
    boss_id = boss.get("/api/me").json()["id"]
    assert [(actor, target) for actor, target, _ in audited] == [
        ("node-start", OTHER_ID),  # sorted by course id at start
        ("node-start", COURSE_ID),
        (boss_id, COURSE_ID),
    ]
    assert '"version": 2' in audited[-1][2]
    assert on_b.get(f"/api/courses/{COURSE_ID}").status_code == 200
    assert a.state.versions.served[COURSE_ID].version == 1  # A has not looked yet
    assert take_up(a) == [COURSE_ID]
    assert a.state.versions.served[COURSE_ID].version == 2
    assert a.state.versions.served[COURSE_ID].origin == "database"
    for n in (a, b):
        assert "post" not in n.state.courses[COURSE_ID].block_types
    for api_of in (learner, on_b):  # the new intro text, on either node
        assert "ฉบับปรับปรุง" in api_of.get(f"/api/courses/{COURSE_ID}/units/intro").json()["html"]
    assert take_up(a) == []  # nothing newer: nothing done

    # Learner state under the rule: the removed post-test is not shown, its state is kept ...
    after = learner.get(f"/api/courses/{COURSE_ID}/progress").json()
    assert "post" not in {q["id"] for q in after["quizzes"]}
    assert after["total_blocks"] < before["total_blocks"]
    with Store(db_url).engine.connect() as conn:
        from sqlalchemy import text

        kept = conn.execute(
            text("SELECT score FROM grades WHERE course_id = :c AND block_id = 'post'"), {"c": COURSE_ID}
        ).scalar()
    assert kept == 1.0
    # ... and comes back with the block: version 3 is version 1's content again (a rollback).
    done = boss.post(f"/api/admin/versions/{COURSE_ID}")
    assert done.json()["new"] is False  # B's folder is what version 2 holds: nothing to publish
    third = Store(db_url)
    try:
        published, _ = publish(third, SAMPLE, "cli")
    finally:
        third.dispose()
    assert (published.version, published.new) == (3, True)
    assert take_up(a) == [COURSE_ID] and take_up(b) == [COURSE_ID]
    for api_of in (learner, on_b):
        back = api_of.get(f"/api/courses/{COURSE_ID}/progress").json()
        assert {q["id"]: q["score"] for q in back["quizzes"]}["post"] == 1.0
        assert back["grade"] == before["grade"] and back["total_blocks"] == before["total_blocks"]
    # The untouched course kept working on both nodes throughout.
    for api_of in (learner, on_b):
        assert api_of.get(f"/api/courses/{OTHER_ID}").status_code == 200
    assert a.state.versions.served[OTHER_ID].version == 1 == b.state.versions.served[OTHER_ID].version
    for n in (a, b):
        n.state.store.dispose()


def test_a_retyped_block_is_refused_at_publish(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    folder = node_folders(tmp_path / "n")
    store = Store(db_url)
    try:
        store.upgrade()
        assert publish(store, folder / COURSE_ID, "cli")[0].version == 1
        edit(
            folder / COURSE_ID,
            "      - type: quiz\n        id: post\n",
            "      - type: html\n        id: post\n        body: <p>สรุป</p>\n      - type: quiz\n        id: post2\n",
        )
        with pytest.raises(Exception, match="block 'post' was lm-quiz and is lm-html now") as caught:
            publish(store, folder / COURSE_ID, "cli")
        assert "needs a new id" in str(caught.value)
        with store.read() as conn:
            assert rows.newest(conn) == {COURSE_ID: 1}
    finally:
        store.dispose()


def test_a_node_with_an_older_published_folder_serves_the_published_version(
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    new = node_folders(tmp_path / "new")
    without_post_test(new / COURSE_ID)
    store = Store(db_url)
    try:
        store.upgrade()
        publish(store, SAMPLE, "cli")
        publish(store, new / COURSE_ID, "cli")
    finally:
        store.dispose()
    old = node(node_folders(tmp_path / "old"), db_url)  # its folder holds version 1
    served = old.state.versions.served[COURSE_ID]
    assert (served.version, served.origin) == (2, "database")
    assert served.content_hash == content_hash(new / COURSE_ID)
    assert "post" not in old.state.courses[COURSE_ID].block_types
    assert Api(old).get(f"/api/courses/{COURSE_ID}").status_code == 200
    old.state.store.dispose()


def test_publish_cli_validates_says_what_it_did_and_db_check_lists_versions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    course = tmp_path / COURSE_ID
    shutil.copytree(SAMPLE, course)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)

    first = run("publish", str(course), "--db", url)
    assert first.returncode == 0, first.stderr
    assert f"published {COURSE_ID} version 1 ({content_hash(SAMPLE)[:12]})" in first.stdout
    again = run("publish", str(course), "--db", url)
    assert again.returncode == 0 and "is already this content; nothing to publish" in again.stdout
    edit(course, "hours: 3", "hours: [")
    broken = run("publish", str(course), "--db", url)
    assert broken.returncode == 1
    assert "course.yaml:" in broken.stderr and "not published" in broken.stderr
    assert "Traceback" not in broken.stderr
    check = run("db", "check", "--db", url)
    assert check.returncode == 0, check.stderr
    assert f"course {COURSE_ID}: version 1 ({content_hash(SAMPLE)[:12]}), published " in check.stdout
    gone = run("publish", str(SAMPLE), "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert gone.returncode != 0 and "cannot be reached" in gone.stderr and "Traceback" not in gone.stderr


def test_poll_interval_is_a_setting_with_bounds() -> None:
    from localmooc_packager.errors import UsageError
    from localmooc_packager.runtime.settings import Settings, version_poll

    assert version_poll(None) == 2.0 and version_poll("0.5") == 0.5
    for bad in ("0", "soon", "99999"):
        with pytest.raises(UsageError, match="LOCALMOOC_VERSION_POLL"):
            version_poll(bad)
    env = Settings(courses=Path("."), version_poll=0.7).to_env()
    assert Settings.from_env(env).version_poll == 0.7


def test_a_node_started_while_the_database_is_away_holds_its_courses(tmp_path: Path) -> None:
    """No course is served before the node knows it is the published one; the next poll checks. (The
    node's state after a start without a database is set by hand: the start itself needs the migrations.)"""
    folders = node_folders(tmp_path / "n")
    db = tmp_path / "late.db"
    url = f"sqlite:///{db}"
    Store(url).upgrade()
    node_app = node(folders, url)
    versions: CourseVersions = node_app.state.versions
    assert set(versions.served) == {COURSE_ID, OTHER_ID}
    # The same node's state after a start with no database: held, 503, then checked on the poll.
    versions.unchecked.update(versions.courses)
    versions.courses.clear()
    versions.served.clear()
    held = Api(node_app).get(f"/api/courses/{OTHER_ID}")
    assert held.status_code == 503 and "ฐานข้อมูลไม่ตอบสนอง" in held.json()["message"]
    assert take_up(node_app) == []
    assert not versions.unchecked and set(versions.courses) == {COURSE_ID, OTHER_ID}
    assert Api(node_app).get(f"/api/courses/{OTHER_ID}").status_code == 200
    node_app.state.store.dispose()
