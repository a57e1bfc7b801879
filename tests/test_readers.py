import pytest

from tasks.readers import BadFile, open_source
from tests.conftest import SAMPLE_DATA

FILES = SAMPLE_DATA / "import"


def read(name, **options):
    source = open_source(FILES / name, **options)
    return source.format, list(source.records)


def test_a_bom_is_not_part_of_the_first_column():
    assert read("bom.csv") == ("tasks", [(2, {"content_id": "film-1", "action": "publish", "due_at": "2027-03-01T09:00:00Z"})])


def test_semicolons_and_tabs_are_detected_from_the_header():
    format, records = read("semicolons.csv")
    assert format == "windows"
    assert [r["title"] for _, r in records] == ["Café Noir", "Semi; colon"]
    assert read("tabs.tsv")[1][0][1]["due_at"] == "2027-03-01T09:00:00Z"


def test_crlf_quoted_newlines_and_blank_lines_keep_each_record_on_its_first_line():
    _, records = read("crlf-quoted-newline.csv")
    assert [(line, r["content_id"]) for line, r in records] == [(2, "film-1"), (6, "film-2")]
    assert records[0][1]["payload"] == '{"note":\r\n "two lines"}'


def test_json_arrays_and_json_lines_stream_objects_with_their_lines():
    assert [(line, r["content_id"]) for line, r in read("tasks.json")[1]] == [(2, "film-1"), (3, "film-2")]
    assert [(line, r["content_id"]) for line, r in read("tasks.jsonl")[1]] == [(1, "film-1"), (3, "film-2")]


def test_broken_json_names_its_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[\n{"content_id": "film-1"},\n{"content_id": "film-2",,}\n]\n')
    with pytest.raises(BadFile, match=r"line 3: not valid JSON"):
        list(open_source(broken).records)
    broken.write_text('[\n{"content_id": "film-1"}\n')
    with pytest.raises(BadFile, match="not closed"):
        list(open_source(broken).records)


def test_another_encoding_names_the_line_and_the_option():
    with pytest.raises(BadFile, match=r"line 2: the file is not UTF-8 text \(byte 0xe9\).*--encoding"):
        read("latin-1.csv")
    assert read("latin-1.csv", encoding="latin-1")[1][0][1]["content_id"] == "film-é"
    with pytest.raises(BadFile, match="unknown encoding 'latin-9x'"):
        read("latin-1.csv", encoding="latin-9x")


def test_the_format_can_be_forced_and_an_empty_file_is_named(tmp_path):
    assert read("tabs.tsv", format="tasks")[0] == "tasks"
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(BadFile, match="the file is empty"):
        open_source(empty)


def test_a_row_with_more_fields_than_the_header_is_reported(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("content_id,action,due_at\nfilm-1,publish,2027-03-01T09:00:00Z,extra\n")
    assert list(open_source(wide).records) == [(2, {"": "has 4 fields but the header names 3 columns"})]


def test_headers_are_read_as_people_write_them_and_a_repeated_column_is_refused(tmp_path):
    messy = tmp_path / "messy.csv"
    messy.write_text("Content ID,ACTION,Due-At,License_ID\nfilm-1,publish,2027-03-01T09:00:00Z,L1\n")
    source = open_source(messy)
    assert source.columns == ("content_id", "action", "due_at", "licence_id")
    twice = tmp_path / "twice.csv"
    twice.write_text("content_id,action,due_at,content_id\nfilm-1,publish,2027-03-01T09:00:00Z,film-2\n")
    with pytest.raises(BadFile, match="line 1: header: column\\(s\\) content_id appear more than once"):
        open_source(twice)


def test_utf16_from_excel_and_a_bom_with_an_explicit_utf8_are_read(tmp_path):
    utf16 = tmp_path / "unicode.txt"
    utf16.write_text("content_id\taction\tdue_at\nfilm-é\tpublish\t2027-03-01T09:00:00Z\n", encoding="utf-16")
    assert list(open_source(utf16, format="tasks").records)[0][1]["content_id"] == "film-é"
    assert read("bom.csv", encoding="UTF-8")[1][0][1]["content_id"] == "film-1"


def test_json_lines_report_a_bad_line_as_a_record_and_arrays_refuse_trailing_content(tmp_path):
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"content_id": "film-1"}\n{"content_id": "film-2", "due_at": \n{"content_id": "film-3"}\n')
    records = list(open_source(lines).records)
    assert [line for line, _ in records] == [1, 2, 3] and records[1][1][""].startswith("not valid JSON")
    trailing = tmp_path / "trailing.json"
    trailing.write_text('[{"content_id": "film-1"}]\n{"content_id": "film-2"}\n')
    with pytest.raises(BadFile, match="line 2: more after the end of the JSON array"):
        list(open_source(trailing).records)


def test_a_huge_field_is_read_for_the_rows_checks_and_trailing_empty_cells_are_fine(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text('content_id,action,due_at,payload\nfilm-1,publish,2027-03-01T09:00:00Z,"' + "x" * 200_000 + '"\n'
                   "film-2,publish,2027-03-01T09:00:00Z,,,\n")
    records = list(open_source(big).records)
    assert len(records[0][1]["payload"]) == 200_000 and records[1][1]["content_id"] == "film-2"
