"""Importing members from CSV: the service, the `import_members` command and the admin import."""

from __future__ import annotations

import csv
import datetime
import io
import time
import tracemalloc
from pathlib import Path

import pytest
from django.core import signing
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import importing
from members.admin import importing as admin_import
from members.importing import ImportFailed, import_members
from members.models import Consent, ConsentEvent, ConsentSource, ConsentTopic, Member, Tag
from tests.members import factories

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,phone,email,birthday,registered_at"


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def run(text: str, **options):
    return import_members(stream=io.StringIO(text), **options)


GOOD = csv_text(
    "POS-1,王芳,13912340001,Wang.Fang@Example.com,1990-05-17,2023-02-14",
    "POS-2,李雷,+86 139 1234 0002,,,2023-03-08 10:30",
    "POS-3,张伟,139-1234-0003,zw@example.cn,1985-12-01,2023-03-08T10:30:00+08:00",
)


# --- the service -----------------------------------------------------------------------------


def test_good_file_creates_members_with_normalised_contact_data():
    result = run(GOOD)

    assert (result.created, result.updated, result.skipped, result.errors) == (3, 0, 0, [])
    fang = Member.objects.get(external_id="POS-1")
    assert fang.name == "王芳"
    assert fang.phone == "+8613912340001"
    assert fang.email == "Wang.Fang@example.com"
    assert fang.birthday == datetime.date(1990, 5, 17)
    assert (fang.birth_month, fang.birth_day) == (5, 17)
    assert fang.source_channel == Member.SourceChannel.IMPORT
    assert fang.member_no.startswith("M")
    assert fang.referral_code
    assert Member.objects.get(external_id="POS-2").email is None


def test_imported_phone_is_encrypted_at_rest_and_found_by_its_hash():
    run(GOOD)

    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, email, birthday FROM members_member")
        dump = repr(cursor.fetchall())
    assert "13912340001" not in dump
    assert "Wang.Fang" not in dump
    assert "1990-05-17" not in dump
    assert list(Member.objects.with_phone("139 1234 0001").values_list("external_id", flat=True)) == ["POS-1"]
    assert list(Member.objects.with_email("wang.fang@example.com").values_list("external_id", flat=True)) == ["POS-1"]


def test_naive_registration_time_is_china_time_and_a_date_is_midnight():
    run(GOOD)

    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    assert Member.objects.get(external_id="POS-1").registered_at == datetime.datetime(2023, 2, 14, tzinfo=shanghai)
    assert Member.objects.get(external_id="POS-2").registered_at == datetime.datetime(
        2023, 3, 8, 10, 30, tzinfo=shanghai
    )


def test_rerun_of_the_same_file_updates_without_duplicates():
    run(GOOD)
    numbers = dict(Member.objects.values_list("external_id", "member_no"))

    result = run(GOOD.replace("王芳", "王芳芳"))

    assert Member.objects.count() == 3
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    assert Member.objects.get(external_id="POS-1").name == "王芳芳"
    assert dict(Member.objects.values_list("external_id", "member_no")) == numbers


def test_rerun_writes_history_only_for_members_that_changed(manager):
    run(GOOD, actor=manager)
    run(GOOD.replace("王芳", "王芳芳"), actor=manager)

    fang = Member.objects.get(external_id="POS-1")
    assert [h.history_type for h in fang.history.order_by("history_date")] == ["+", "~"]
    assert fang.history.latest().history_user == manager
    assert Member.objects.get(external_id="POS-2").history.count() == 1


def test_empty_email_and_birthday_leave_stored_values_as_they_are():
    run(GOOD)

    run(csv_text("POS-1,王芳,13912340001,,,2023-02-14"))

    fang = Member.objects.get(external_id="POS-1")
    assert fang.email == "Wang.Fang@example.com"
    assert fang.birthday == datetime.date(1990, 5, 17)


def test_bad_date_on_line_3_stops_the_import_naming_line_and_column_and_stores_nothing():
    text = csv_text(
        "POS-1,王芳,13912340001,,1990-05-17,2023-02-14,VIP,1",
        "POS-2,李雷,13912340002,,1980-13-45,2023-02-14,VIP,1",
        "POS-3,张伟,13912340003,,,2023-02-14,VIP,1",
        header=HEADER + ",tags,consent_marketing_sms",
    )

    with pytest.raises(ImportFailed) as failure:
        run(text)

    assert str(failure.value) == "Line 3, column birthday: “1980-13-45” is not a valid date (use YYYY-MM-DD)."
    assert [(e.line, e.column, e.value) for e in failure.value.errors] == [(3, "birthday", "1980-13-45")]
    assert failure.value.code == "import_failed"
    assert Member.objects.count() == 0
    assert Member.history.count() == 0
    assert Tag.objects.count() == 0
    assert Consent.objects.count() == 0
    assert ConsentEvent.objects.count() == 0


def test_a_bad_row_in_a_later_batch_also_undoes_the_earlier_batches():
    lines = [f"POS-{i},会员{i},1391234{i:04d},,,2023-02-14" for i in range(1, 8)]
    lines.append("POS-9,坏行,13912349999,,,not a date")

    with pytest.raises(ImportFailed, match="Line 9, column registered_at"):
        run(csv_text(*lines), batch_size=3)

    assert Member.objects.count() == 0


def test_skip_errors_imports_the_good_rows_and_reports_each_bad_one_with_its_line():
    text = csv_text(
        "POS-1,王芳,13912340001,,1990-05-17,2023-02-14",
        "POS-2,李雷,13912340002,,1980-13-45,2023-02-14",
        "POS-3,张伟,12345,,,2023-02-14",
        "POS-4,,13912340004,not-an-email,,2023-02-14",
        "POS-5,赵敏,13912340005,,,2023-02-14",
    )

    result = run(text, skip_errors=True)

    assert (result.created, result.skipped) == (2, 3)
    assert sorted(Member.objects.values_list("external_id", flat=True)) == ["POS-1", "POS-5"]
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "birthday"),
        (4, "phone"),
        (5, "name"),
        (5, "email"),
    ]
    assert result.errors[1].message == "“12345” is not a valid phone number."


def test_birthday_in_the_future_is_a_row_error():
    future = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()

    with pytest.raises(ImportFailed, match="Line 2, column birthday: The birthday cannot be in the future"):
        run(csv_text(f"POS-1,王芳,13912340001,,{future},2023-02-14"))


def test_phone_of_another_existing_member_is_a_row_error():
    other = factories.member(phone="13912340002")

    with pytest.raises(ImportFailed) as failure:
        run(GOOD)

    assert str(failure.value) == f"Line 3, column phone: Member {other.member_no} already has this phone number."
    assert Member.objects.count() == 1


def test_member_keeping_its_own_phone_is_no_clash():
    factories.member(phone="13912340001", external_id="POS-1")

    result = run(GOOD)

    assert (result.created, result.updated) == (2, 1)


def test_phone_twice_in_the_file_is_a_row_error_naming_the_first_line():
    text = csv_text(
        "POS-1,王芳,13912340001,,,2023-02-14",
        "POS-2,李雷,13912340002,,,2023-02-14",
        "POS-3,张伟,+86 139 1234 0001,,,2023-02-14",
    )

    for batch_size in (1000, 1):  # in the same batch and in a later one
        result = run(text, skip_errors=True, batch_size=batch_size, dry_run=True)
        assert [str(e) for e in result.errors] == [
            "Line 4, column phone: This phone number is already on line 2 of this file."
        ]


def test_external_id_twice_in_the_file_is_a_row_error():
    text = csv_text(
        "POS-1,王芳,13912340001,,,2023-02-14",
        "POS-2,李雷,13912340002,,,2023-02-14",
        "POS-1,张伟,13912340003,,,2023-02-14",
    )

    for batch_size in (1000, 2):
        with pytest.raises(ImportFailed, match="Line 4, column external_id: This external ID is already on line 2"):
            run(text, batch_size=batch_size)


def test_missing_required_column_stops_the_import_naming_it():
    with pytest.raises(ImportFailed) as failure:
        run("external_id,name,email,registered_at\nPOS-1,王芳,,2023-02-14\n")

    assert "Required columns are missing: phone, birthday." in str(failure.value)
    assert failure.value.errors[0].line == 1


def test_unknown_column_stops_the_import_naming_it():
    with pytest.raises(ImportFailed, match="Unknown columns: wechat_id"):
        run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,wx1", header=HEADER + ",wechat_id"))


def test_bytes_that_are_not_utf8_in_a_later_batch_undo_the_earlier_batches():
    # Longer than the 8 KB the text decoder reads at once, so the first batches are written first.
    good = csv_text(*(f"POS-{i},会员{i},1391234{i:04d},,,2023-02-14" for i in range(400)))
    raw = good.encode("utf-8") + "POS-X,赵敏,13912349999,,,2023-02-14\n".encode("gbk")
    batches = []

    with pytest.raises(ImportFailed, match="not UTF-8 text"):
        stream = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline="")
        import_members(stream=stream, batch_size=50, progress=batches.append)

    assert batches  # some batches were written before the bad bytes
    assert Member.objects.count() == 0
    assert Member.history.count() == 0


@pytest.mark.parametrize("external_id", ["POS-NEW", "POS-OLD"], ids=["insert", "update"])
def test_a_write_refused_by_the_database_fails_the_import_and_stores_nothing(monkeypatch, external_id):
    # As if another session took the phone between the import's check and its write.
    monkeypatch.setattr(importing._Importer, "_check_phones_and_earlier_lines", lambda self, rows: None)
    factories.member(phone="13912340001", external_id="POS-HAS-IT", name="甲")
    factories.member(phone="13912340002", external_id="POS-OLD", name="乙")
    text = csv_text("POS-5,赵敏,13912340005,,,2023-02-14", f"{external_id},丙,13912340001,,,2023-02-14")

    with pytest.raises(ImportFailed, match="Another change to the same members happened during the import"):
        run(text, batch_size=1)

    assert sorted(Member.objects.values_list("external_id", "name")) == [("POS-HAS-IT", "甲"), ("POS-OLD", "乙")]


@pytest.mark.postgres
@pytest.mark.parametrize("arrives_before", range(6))
def test_a_refused_pipelined_write_fails_the_import_wherever_the_servers_answer_arrives(monkeypatch, arrives_before):
    # On PostgreSQL the update and the bookkeeping after it go down a pipeline; the server's refusal
    # reaches the client whenever it arrives, which in a busy full run can be while a later statement
    # is sent. Make it arrive before each later statement in turn: every one must fail the import
    # with the same message, never escape as a bare IntegrityError.
    monkeypatch.setattr(importing._Importer, "_check_phones_and_earlier_lines", lambda self, rows: None)
    factories.member(phone="13912340001", external_id="POS-HAS-IT", name="甲")
    factories.member(phone="13912340002", external_id="POS-OLD", name="乙")
    sent = []
    original = importing._Importer._execute_later

    def execute_later(self, sql, params=None):
        if self.pipeline is not None and len(sent) == arrives_before:
            time.sleep(0.3)  # the server has long answered: psycopg reads its answers as this statement is sent
        sent.append(sql)
        original(self, sql, params)

    monkeypatch.setattr(importing._Importer, "_execute_later", execute_later)
    text = csv_text("POS-5,赵敏,13912340005,,,2023-02-14", "POS-OLD,丙,13912340001,,,2023-02-14")

    with pytest.raises(ImportFailed, match="Another change to the same members happened during the import"):
        run(text, batch_size=1)

    assert sorted(Member.objects.values_list("external_id", "name")) == [("POS-HAS-IT", "甲"), ("POS-OLD", "乙")]


def test_empty_file_is_refused():
    with pytest.raises(ImportFailed, match="The file is empty"):
        run("")


def test_row_with_the_wrong_number_of_values_is_a_row_error():
    with pytest.raises(ImportFailed, match="Line 2: Expected 6 values as in the header, found 5"):
        run(csv_text("POS-1,王芳,13912340001,,2023-02-14"))


def test_header_with_bom_and_capitals_is_read():
    result = run("\ufeff" + GOOD.replace("external_id,name", "External_ID,Name", 1))

    assert result.created == 3


def test_blank_lines_are_ignored_but_counted_in_line_numbers():
    text = csv_text("POS-1,王芳,13912340001,,,2023-02-14", "", ",,,,,", "POS-2,李雷,13912340002,,1980-13-45,2023-02-14")

    with pytest.raises(ImportFailed, match=r"^Line 5, column birthday"):
        run(text)


def test_line_numbers_count_physical_lines_of_multiline_values():
    text = csv_text('POS-1,"王芳\n(VIP)",13912340001,,,2023-02-14', "POS-2,李雷,13912340002,,1980-13-45,2023-02-14")

    with pytest.raises(ImportFailed, match=r"^Line 4, column birthday"):
        run(text)


def test_optional_columns_set_gender_store_and_tags():
    store = factories.store(code="sh-001")
    text = csv_text(
        "POS-1,王芳,13912340001,,,2023-02-14,女,sh-001,VIP; 花艺课|VIP",
        "POS-2,李雷,13912340002,,,2023-02-14,male,,",
        header=HEADER + ",gender,store,tags",
    )

    run(text)

    fang = Member.objects.get(external_id="POS-1")
    assert fang.gender == Member.Gender.FEMALE
    assert fang.home_store == store
    assert sorted(fang.tags.values_list("name", flat=True)) == ["VIP", "花艺课"]
    lei = Member.objects.get(external_id="POS-2")
    assert (lei.gender, lei.home_store, lei.tags.count()) == (Member.Gender.MALE, None, 0)


def test_rerun_updates_every_imported_field_of_a_known_member():
    store = factories.store(code="bj-002", name="北京三里屯店", city="北京")
    member = factories.member(name="旧名字", phone="13912340009", external_id="POS-1")
    text = csv_text(
        "POS-1,新名字,+86 139 1234 0001,New@Example.com,1991-06-18,2024-01-02 09:15,male,bj-002",
        header=HEADER + ",gender,store",
    )

    result = run(text)

    assert result.updated == 1
    member = Member.objects.get(pk=member.pk)  # as stored, not as set in memory
    assert (member.name, member.phone, member.email) == ("新名字", "+8613912340001", "New@example.com")
    assert (member.birthday, member.birth_month, member.birth_day) == (datetime.date(1991, 6, 18), 6, 18)
    assert member.registered_at == datetime.datetime(2024, 1, 2, 1, 15, tzinfo=datetime.UTC)
    assert (member.gender, member.home_store) == (Member.Gender.MALE, store)
    assert list(Member.objects.with_phone("13912340001")) == [member]
    assert list(Member.objects.with_phone("13912340009")) == []
    assert list(Member.objects.with_email("new@example.com")) == [member]


def test_tags_are_added_and_never_removed():
    header = HEADER + ",tags"
    run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,VIP", header=header))

    result = run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,花艺课", header=header))

    assert result.updated == 1
    fang = Member.objects.get(external_id="POS-1")
    assert sorted(fang.tags.values_list("name", flat=True)) == ["VIP", "花艺课"]


def test_unknown_store_and_gender_are_row_errors():
    text = csv_text("POS-1,王芳,13912340001,,,2023-02-14,woman,nowhere", header=HEADER + ",gender,store")

    result = run(text, skip_errors=True)

    assert [(e.column, e.value) for e in result.errors] == [("gender", "woman"), ("store", "nowhere")]
    assert result.errors[1].message == "No store has the code “nowhere”."


def test_consent_columns_record_consents_and_their_history_with_source_import(manager):
    header = HEADER + ",consent_marketing_sms,consent_marketing_email,consent_marketing_wechat,consent_data_processing"
    run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,1,否,,yes", header=header), actor=manager)

    fang = Member.objects.get(external_id="POS-1")
    assert dict(fang.consents.values_list("topic", "granted")) == {
        ConsentTopic.MARKETING_SMS: True,
        ConsentTopic.MARKETING_EMAIL: False,
        ConsentTopic.DATA_PROCESSING: True,
    }
    events = list(fang.consent_events.all())
    assert len(events) == 3
    assert {(e.source, e.actor) for e in events} == {(ConsentSource.IMPORT, manager)}


def test_consents_change_only_when_they_really_change():
    header = HEADER + ",consent_marketing_sms,consent_marketing_email"
    run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,1,1", header=header))

    unchanged = run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,1,", header=header))
    withdrawn = run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,0,", header=header))

    assert (unchanged.unchanged, withdrawn.updated) == (1, 1)
    fang = Member.objects.get(external_id="POS-1")
    assert dict(fang.consents.values_list("topic", "granted")) == {"marketing_sms": False, "marketing_email": True}
    assert [(e.topic, e.granted) for e in fang.consent_events.order_by("id")] == [
        ("marketing_email", True),
        ("marketing_sms", True),
        ("marketing_sms", False),
    ]


def test_bad_consent_value_is_a_row_error():
    with pytest.raises(ImportFailed, match="column consent_marketing_sms: “maybe” is not a yes or no"):
        run(csv_text("POS-1,王芳,13912340001,,,2023-02-14,maybe", header=HEADER + ",consent_marketing_sms"))


def test_dry_run_stores_nothing_and_previews_the_rows_as_they_would_be_stored():
    factories.member(phone="13912340003", external_id="POS-3", name="张伟")

    result = run(GOOD, dry_run=True, preview_rows=2)

    assert result.dry_run
    assert (result.created, result.updated) == (2, 1)
    assert Member.objects.count() == 1
    assert [(row["line"], row["action"], row["phone"]) for row in result.preview] == [
        (2, "create", "+8613912340001"),
        (3, "create", "+8613912340002"),
    ]


def test_dry_run_returns_every_bad_row_instead_of_stopping():
    text = csv_text("POS-1,王芳,13912340001,,1980-13-45,2023-02-14", "POS-2,李雷,123,,,2023-02-14")

    result = run(text, dry_run=True)

    assert [(e.line, e.column) for e in result.errors] == [(2, "birthday"), (3, "phone")]
    assert Member.objects.count() == 0


def test_progress_is_reported_after_each_batch():
    seen = []

    run(GOOD, batch_size=2, progress=seen.append)

    assert seen == [2, 3]


def test_queries_per_batch_do_not_grow_with_the_rows(manager):
    Tag.objects.create(name="VIP")

    def count_queries(rows: int) -> int:
        lines = [f"Q{rows}-{i},会员{i},1391{rows:03d}{i:04d},m{i}@example.com,,2023-02-14,VIP,1" for i in range(rows)]
        text = csv_text(*lines, header=HEADER + ",tags,consent_marketing_sms")
        with CaptureQueriesContext(connection) as queries:
            run(text, actor=manager)
        return len(queries)

    # 40 rows stay within one statement even under SQLite's 999 parameters.
    assert count_queries(5) == count_queries(40)


def test_a_huge_file_streams_in_constant_memory(tmp_path):
    rows = 8_000
    path = tmp_path / "huge.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER.split(","))
        for i in range(rows):
            writer.writerow(
                [f"H{i:06d}", f"会员{i}", f"137{i:08d}", f"member{i}@example.com", "1990-01-01", "2023-02-14"]
            )
    # What the file costs when read into memory at once, the thing streaming avoids.
    tracemalloc.start()
    with open(path, encoding="utf-8", newline="") as stream:
        whole = list(csv.reader(stream))
    in_memory = tracemalloc.get_traced_memory()[0]
    del whole
    tracemalloc.stop()

    run(GOOD)  # warm up: libraries load their data (phone metadata, translations) on first use
    tracemalloc.start()
    try:
        with open(path, encoding="utf-8", newline="") as stream:
            result = import_members(stream=stream, batch_size=100, preview_rows=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert result.created == rows
    assert in_memory > 4_000_000
    assert peak < in_memory / 3, (peak, in_memory)


# --- the command -----------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_members", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_and_prints_the_counts_with_a_progress_bar(tmp_path):
    out, err = command(str(write(tmp_path, GOOD)))

    assert "Created 3, updated 0, unchanged 0; bad rows skipped: 0." in out
    assert "100%" in err
    assert Member.objects.count() == 3


def test_command_reads_a_file_with_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(GOOD.encode("utf-8-sig"))

    out, _err = command(str(path))

    assert "Created 3" in out


def test_command_fails_with_the_line_numbered_error_and_stores_nothing(tmp_path):
    path = write(tmp_path, GOOD.replace("1985-12-01", "1980-13-45"))

    with pytest.raises(CommandError) as failure:
        command(str(path))

    assert failure.value.returncode == 1
    assert str(failure.value) == (
        "Line 4, column birthday: “1980-13-45” is not a valid date (use YYYY-MM-DD). Nothing was imported."
    )
    assert Member.objects.count() == 0


def test_command_with_skip_errors_writes_the_report_next_to_the_file(tmp_path):
    path = write(tmp_path, GOOD.replace("1985-12-01", "1980-13-45"))

    out, err = command(str(path), "--skip-errors")

    report = tmp_path / "members.csv.errors.csv"
    assert "Created 2, updated 0, unchanged 0; bad rows skipped: 1." in out
    assert f"1 bad row was not imported; the report is in {report}." in err
    with open(report, encoding="utf-8-sig", newline="") as stream:
        assert list(csv.reader(stream)) == [
            ["line", "column", "value", "message"],
            ["4", "birthday", "1980-13-45", "“1980-13-45” is not a valid date (use YYYY-MM-DD)."],
        ]


def test_command_writes_the_report_where_asked(tmp_path):
    path = write(tmp_path, GOOD.replace("1985-12-01", "1980-13-45"))

    command(str(path), "--skip-errors", "--report", str(tmp_path / "bad.csv"), "--batch-size", "1")

    assert (tmp_path / "bad.csv").exists()
    assert Member.objects.count() == 2


def test_command_dry_run_stores_nothing(tmp_path):
    out, _err = command(str(write(tmp_path, GOOD)), "--dry-run")

    assert "Dry run, nothing was stored: would create 3" in out
    assert Member.objects.count() == 0


def test_command_dry_run_with_bad_rows_fails_and_reports_all_of_them(tmp_path):
    path = write(tmp_path, GOOD.replace("1985-12-01", "1980-13-45").replace("13912340001", "123"))

    with pytest.raises(CommandError, match="2 rows have errors") as failure:
        command(str(path), "--dry-run")

    assert failure.value.returncode == 1
    assert len((tmp_path / "members.csv.errors.csv").read_text(encoding="utf-8-sig").splitlines()) == 3


def test_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        command(str(tmp_path / "nope.csv"))


def test_command_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(GOOD.encode("gbk"))

    with pytest.raises(CommandError, match="not UTF-8 text"):
        command(str(path))
    assert Member.objects.count() == 0


# --- the admin import ------------------------------------------------------------------------

IMPORT_URL = "/admin/members/member/import/"


def upload(client, text: str | bytes, name: str = "members.csv", skip_errors: bool = False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    file = io.BytesIO(data)
    file.name = name
    payload = {"file": file}
    if skip_errors:
        payload["skip_errors"] = "on"
    return client.post(IMPORT_URL, payload)


def test_admin_import_is_refused_to_store_staff(client, store_staff):
    client.force_login(store_staff)

    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, GOOD).status_code == 403
    assert Member.objects.count() == 0


def test_admin_import_shows_the_upload_form_to_managers(client, manager):
    client.force_login(manager)

    response = client.get(IMPORT_URL)

    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content
    assert b"external_id, name, phone, email, birthday, registered_at" in response.content


def test_admin_preview_shows_counts_rows_and_errors_and_stores_nothing(client, manager):
    client.force_login(manager)
    factories.member(phone="13912340003", external_id="POS-3")

    response = upload(client, GOOD.replace("2023-02-14", "1980-13-45") + "POS-4,赵敏,13912340004,,,2023-02-14\n")

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.created, result.updated, result.skipped) == (2, 1, 1)
    html = response.content.decode()
    assert 'id="import-preview"' in html
    assert "+8613912340002" in html
    assert "“1980-13-45” is not a valid date or time" in html
    assert "Confirm import" in html
    assert Member.objects.count() == 1


def test_admin_confirm_imports_with_the_same_service_and_redirects(client, manager):
    client.force_login(manager)
    preview = upload(client, GOOD)
    token = preview.context["confirm_form"].initial["token"]

    response = client.post(IMPORT_URL, {"token": token, "_confirm": "1"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:members_member_changelist")
    assert Member.objects.count() == 3
    assert Member.objects.get(external_id="POS-1").history.latest().history_user == manager
    assert "3 members created" in response.content.decode()


def test_admin_confirm_removes_the_stored_upload(client, manager, settings):
    client.force_login(manager)
    token = upload(client, GOOD).context["confirm_form"].initial["token"]
    imports = Path(settings.MEDIA_ROOT) / "imports"
    assert len(list(imports.glob("*.csv"))) == 1

    client.post(IMPORT_URL, {"token": token, "_confirm": "1"})

    assert list(imports.glob("*.csv")) == []
    again = client.post(IMPORT_URL, {"token": token, "_confirm": "1"})
    assert "already imported or has expired" in again.content.decode()
    assert Member.objects.count() == 3


def test_admin_confirm_of_a_bad_file_without_skipping_shows_the_errors_and_stores_nothing(client, manager):
    client.force_login(manager)
    token = upload(client, GOOD.replace("1985-12-01", "1980-13-45")).context["confirm_form"].initial["token"]

    response = client.post(IMPORT_URL, {"token": token, "_confirm": "1"})

    assert response.status_code == 200
    assert "Nothing was imported" in response.content.decode()
    assert [(e.line, e.column) for e in response.context["errors"]] == [(4, "birthday")]
    assert Member.objects.count() == 0


def test_admin_confirm_with_skip_errors_imports_the_good_rows(client, manager):
    client.force_login(manager)
    token = upload(client, GOOD.replace("1985-12-01", "1980-13-45")).context["confirm_form"].initial["token"]

    response = client.post(IMPORT_URL, {"token": token, "skip_errors": "on", "_confirm": "1"}, follow=True)

    assert Member.objects.count() == 2
    assert "1 bad row was skipped" in response.content.decode()


def test_admin_error_report_downloads_every_bad_row_as_csv(client, manager):
    client.force_login(manager)
    token = upload(client, GOOD.replace("1985-12-01", "1980-13-45")).context["confirm_form"].initial["token"]

    response = client.post(IMPORT_URL, {"token": token, "_report": "1"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["4", "birthday", "1980-13-45"]


def test_admin_refuses_a_forged_token(client, manager):
    client.force_login(manager)
    upload(client, GOOD)
    forged = signing.dumps({"file": "0" * 32 + ".csv", "user": manager.pk}, salt="someone-else")

    response = client.post(IMPORT_URL, {"token": forged, "_confirm": "1"})

    assert "This import link is not valid" in response.content.decode()
    assert Member.objects.count() == 0


def test_admin_refuses_a_token_of_another_user(client, manager, superuser):
    client.force_login(manager)
    token = upload(client, GOOD).context["confirm_form"].initial["token"]
    client.force_login(superuser)

    response = client.post(IMPORT_URL, {"token": token, "_confirm": "1"})

    assert "This import link is not valid" in response.content.decode()
    assert Member.objects.count() == 0


def test_admin_refuses_an_expired_token(client, manager, monkeypatch):
    client.force_login(manager)
    token = upload(client, GOOD).context["confirm_form"].initial["token"]
    monkeypatch.setattr(admin_import, "TOKEN_MAX_AGE", -1)

    response = client.post(IMPORT_URL, {"token": token, "_confirm": "1"})

    assert "This upload has expired" in response.content.decode()
    assert Member.objects.count() == 0


def test_admin_refuses_a_file_that_is_not_csv(client, manager):
    client.force_login(manager)

    response = upload(client, b"\x89PNG\r\n\x1a\n\x00\x00", name="photo.png")

    assert "Upload a CSV file" in response.content.decode()


def test_admin_refuses_a_file_that_is_not_utf8(client, manager):
    client.force_login(manager)

    response = upload(client, GOOD.encode("gbk"))

    assert "not a CSV text file in UTF-8" in response.content.decode()


def test_admin_refuses_a_file_over_the_size_limit(client, manager, settings):
    client.force_login(manager)
    settings.MEMBER_IMPORT_MAX_BYTES = 100

    response = upload(client, GOOD)

    assert "the largest file accepted is 100\xa0bytes" in response.content.decode()
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists() or not list(
        (Path(settings.MEDIA_ROOT) / "imports").iterdir()
    )


def test_admin_shows_a_bad_header_without_a_preview(client, manager):
    client.force_login(manager)

    response = upload(client, "external_id,name\nPOS-1,王芳\n")

    html = response.content.decode()
    assert "Required columns are missing: phone, email, birthday, registered_at." in html
    assert "Confirm import" not in html


# --- input rules (loyalty_crm.inputs): NUL characters, dates before 1900 ---------------------


def test_a_nul_character_in_a_cell_is_a_row_error_naming_line_and_column_and_stores_nothing():
    text = csv_text("POS-1,王芳,13912340001,,,2023-02-14", "POS-2,李\x00雷,13912340002,,,2023-02-14")

    with pytest.raises(ImportFailed) as failure:
        run(text)

    assert [str(error) for error in failure.value.errors] == ["Line 3, column name: Null characters are not allowed."]
    assert failure.value.errors[0].value == "李\\u0000雷"
    assert not Member.objects.exists()


def test_skip_errors_imports_the_rows_without_nul_characters():
    text = csv_text("POS-1,王芳,13912340001,,,2023-02-14", "POS-\x00,李雷,13912340002,,,2023-02-14")

    result = run(text, skip_errors=True)

    assert (result.created, result.skipped) == (1, 1)
    assert [(e.line, e.column) for e in result.errors] == [(3, "external_id")]
    assert list(Member.objects.values_list("external_id", flat=True)) == ["POS-1"]


def test_a_nul_character_in_the_header_refuses_the_file():
    with pytest.raises(ImportFailed, match="Line 1: Null characters are not allowed"):
        run(csv_text("POS-1,王芳,13912340001,,,2023-02-14", header=HEADER + ",no\x00te"))


@pytest.mark.parametrize(
    ("column", "line", "message"),
    [
        ("registered_at", "POS-1,王芳,13912340001,,,0099-02-14", "Dates before 1900 are not accepted."),
        (
            "registered_at",
            "POS-1,王芳,13912340001,,,2023-02-14T10:00:00+16:00",
            "The UTC offset must be whole minutes between -15:59 and +15:59.",
        ),
        ("birthday", "POS-1,王芳,13912340001,,1899-05-17,2023-02-14", "Dates before 1900 are not accepted."),
    ],
)
def test_dates_the_api_refuses_are_row_errors_too(column, line, message):
    with pytest.raises(ImportFailed) as failure:
        run(csv_text(line))

    assert [(e.line, e.column, e.message) for e in failure.value.errors] == [(2, column, message)]
    assert not Member.objects.exists()
