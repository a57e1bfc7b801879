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
