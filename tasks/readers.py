"""Stream records out of the files editors have: CSV (any of , ; tab, BOM, CRLF), a JSON array, JSON Lines."""
import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("tasks", "windows", "json")
DELIMITERS = ",;\t"
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
ALIASES = {"license_id": "licence_id", "contentid": "content_id"}
WHITESPACE = " \t\r\n"
MAX_OBJECT_CHARS = 1 << 20  # a task object is far smaller: its payload is at most 64 KB


# A field may be large (a payload of up to 64 KB, and its quoting); the rows' checks say what is too large.
csv.field_size_limit(4 * 1024 * 1024)


class BadFile(Exception):
    """The file as a whole cannot be read (encoding, header, syntax); the message says where and what to do."""


@dataclass
class Source:
    """An opened input: its format, the columns it has (CSV), and its records as (line, {column: text})."""

    format: str
    columns: tuple
    records: object


def open_source(path, *, format=None, encoding=None):
    """Open `path` and return a Source; the format comes from `format`, else the extension, else the header."""
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise BadFile(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    encoding = _encoding_of(path, encoding)
    try:
        stream = path.open(encoding=encoding, newline="")
    except (FileNotFoundError, IsADirectoryError):
        raise BadFile("no such file") from None
    except OSError as exc:
        raise BadFile(f"cannot be read ({exc.strerror})") from None
    except LookupError:
        raise BadFile(f"unknown encoding {encoding!r}; use a Python codec name such as cp1252 or utf-16") from None
    lines = _Peeked(_decoded(stream, path, encoding))
    first = lines.first.removeprefix("\ufeff")  # a BOM, whatever --encoding said
    lines.pending = [first] if first else []
    if format == "json" or (format is None and (path.suffix.lower() in JSON_SUFFIXES or first.lstrip()[:1] in ("[", "{"))):
        return Source("json", (), _json_records(lines))
    reader = csv.reader(lines, delimiter=_delimiter(first))
    try:
        header = [column_name(c) for c in next(reader, [])]
    except csv.Error as exc:
        raise BadFile(f"line 1: header: {exc}") from None
    if not any(header):
        raise BadFile("line 1: header: the file is empty; the first line must name the columns")
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        raise BadFile(f"line 1: header: column(s) {', '.join(repeated)} appear more than once")
    detected = "windows" if {"licence_id", "publish_at"} <= set(header) else "tasks"
    return Source(format or detected, tuple(header), _csv_records(reader, header))


def column_name(text):
    """Return the column a header cell names: 'Content ID', 'DUE_AT' and 'license-id' read as the import's names."""
    name = "_".join(text.strip().lower().replace("-", " ").split())
    return ALIASES.get(name, name)


def _encoding_of(path, encoding):
    if encoding:
        return "utf-8-sig" if encoding.lower().replace("-", "").replace("_", "") == "utf8" else encoding
    try:
        with open(path, "rb") as stream:
            start = stream.read(2)
    except OSError:
        return "utf-8-sig"  # open() says what is wrong
    return "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"  # Excel's "Unicode text" is UTF-16


def _decoded(stream, path, encoding):
    """Yield the file's lines, turning a decoding error into BadFile naming the line and --encoding."""
    with stream:
        try:
            yield from stream
        except UnicodeDecodeError as exc:
            line, byte = _first_undecodable(path, exc.encoding)
            named = "UTF-8" if encoding == "utf-8-sig" else encoding
            raise BadFile(f"line {line}: the file is not {named} text (byte {byte}); if it was saved "
                          "in another encoding, pass it with --encoding, such as --encoding cp1252") from None


def _first_undecodable(path, encoding):
    """Return (line number, byte) of the first line that does not decode (text files decode in blocks)."""
    with open(path, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError as exc:
                return number, f"0x{raw[exc.start]:02x}"
    return "?", "?"


class _Peeked:
    """An iterator over lines with the first one read ahead, so the format can be detected from it."""

    def __init__(self, lines):
        self.lines = lines
        self.first = next(lines, "")
        self.pending = [self.first] if self.first else []

    def __iter__(self):
        return self

    def __next__(self):
        return self.pending.pop() if self.pending else next(self.lines)


def _delimiter(header_line):
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_records(reader, header):
    ended = 1  # the line the previous record ended on: a quoted field may span lines
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a quote never closed swallows the rest of the file into one field
            raise BadFile(f"line {ended + 1}: {exc}; is a quoted field there never closed?") from None
        start, ended = ended + 1, reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines, and the empty rows spreadsheets leave at the end
        if len(values) > len(header) and any(v.strip() for v in values[len(header):]):
            yield start, {"": f"has {len(values)} fields but the header names {len(header)} columns"}
            continue
        yield start, {name: value.strip() for name, value in zip(header, values) if name}


def _json_records(lines):
    """Yield (line, object) from a JSON array (parsed one object at a time) or from JSON Lines."""
    if lines.first.lstrip().startswith("["):
        return _json_array(lines)
    return _json_lines(lines)


def _json_lines(lines):
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            yield number, {"": f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"}
            continue
        yield number, value if isinstance(value, dict) else {"": f"must be a JSON object, not {type(value).__name__}"}


def _json_array(lines):
    decoder, state = json.JSONDecoder(), {"buffer": "", "line": 1, "exhausted": False}

    def more():
        chunk = "".join(itertools.islice(lines, 256))
        state["exhausted"] = not chunk
        state["buffer"] += chunk

    def skip(chars):
        while True:
            buffer = state["buffer"]
            stripped = buffer.lstrip(chars)
            state["line"] += buffer.count("\n", 0, len(buffer) - len(stripped))
            state["buffer"] = stripped
            if stripped or state["exhausted"]:
                return
            more()

    more()
    skip(WHITESPACE)
    state["buffer"] = state["buffer"][1:]  # the opening [
    while True:
        skip(WHITESPACE + ",")
        buffer, line = state["buffer"], state["line"]
        if not buffer:
            raise BadFile(f"line {line}: the JSON array is not closed with ]")
        if buffer.startswith("]"):
            state["buffer"] = buffer[1:]
            skip(WHITESPACE)
            if state["buffer"]:
                raise BadFile(f"line {state['line']}: more after the end of the JSON array; one array holds every task")
            return
        try:
            value, end = decoder.raw_decode(buffer)
        except json.JSONDecodeError as exc:
            # The object may only be cut off where this chunk ends: read on, up to the largest object we take.
            if not state["exhausted"] and len(buffer) < MAX_OBJECT_CHARS:
                more()
                continue
            raise BadFile(f"line {line + exc.lineno - 1}: not valid JSON ({exc.msg})") from None
        yield line, value if isinstance(value, dict) else {"": f"must be a JSON object, not {type(value).__name__}"}
        state["line"] += buffer.count("\n", 0, end)
        state["buffer"] = buffer[end:]


def line_count(path):
    """Count the lines of a file quickly (for a progress bar's total)."""
    count = 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            count += block.count(b"\n")
    return count

