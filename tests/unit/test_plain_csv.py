"""Which CSV files the app extractor may COPY as they are (sources.PlainCsv), and which blocks send it to staging."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.app import sources
from extract.app.sources import FileSource, NotPlain

HEADER = "id,tenant_id,user_id,method,route,status_code,duration_ms,occurred_at"
LINE = "r{i},t1,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z"


def _plain(tmp_path: Path, text: str | bytes, table: str = "api_requests") -> sources.PlainCsv | None:
    path = tmp_path / f"{table}.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return FileSource(tmp_path).read(table, None, None).plain


def _lines(count: int, eol: str = "\n") -> str:
    return "".join(LINE.format(i=i) + eol for i in range(count))


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_plain_file_is_handed_out_as_it_is(tmp_path: Path, eol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "CHUNK_BYTES", 50)  # blocks end mid-line: each is completed to a whole line
    body = _lines(5, eol) + "r5,t1,,GET,/a,,,2025-03-02 09:00:00+01"  # empty fields, no line end at the end
    plain = _plain(tmp_path, "\ufeff" + HEADER + eol + body)
    assert plain is not None and plain.columns == tuple(HEADER.split(","))
    assert b"".join(plain.chunks(["t1"])).decode() == body + eol
    assert plain.rows == 6


@pytest.mark.parametrize(
    "line",
    [
        'r9,t1,u1,GET,"/a,b",200,1.5,2025-03-01T08:00:00Z',  # a quoted field
        "r9,t1,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z,surplus",  # a field too many
        "r9,t1,u1,GET,/a,200,2025-03-01T08:00:00Z",  # a field too few
        "",  # an empty line
        "r9,t1,u1,GET,/a,200,1.5,now",  # Postgres reads it, the checks refuse it
        "r9,t1,u1,GET,/a,200,1.5,Mar 1 2025",
        "r9,t1,u1,GET,/a,200,1.5, 2025-03-01T08:00:00Z",  # a leading space: the checks' own test decides
        "r9,t1,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z\r",  # a carriage return in a file of line feeds
        "r9,t1,u1,GET,/a\x00,200,1.5,2025-03-01T08:00:00Z",
        "r9,t2,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z",  # a tenant that is not known
        "r9,t10,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z",  # longer than any known one
        "r9,t,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z",  # shorter
        " r9,t1,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z",  # a required text beginning with a space: it may be blank
        "r9,t1 ,u1,GET,/a,200,1.5,2025-03-01T08:00:00Z",
    ],
)
def test_a_block_that_is_not_plain_stops_the_direct_copy(tmp_path: Path, line: str) -> None:
    plain = _plain(tmp_path, HEADER + "\n" + _lines(3) + line + "\n" + _lines(2))
    assert plain is not None
    with pytest.raises(NotPlain):
        list(plain.chunks(["t1"]))


def test_a_line_feed_alone_in_a_file_of_crlf_lines_is_not_plain(tmp_path: Path) -> None:
    plain = _plain(tmp_path, HEADER + "\r\n" + _lines(3, "\r\n") + _lines(1, "\n"))
    assert plain is not None
    with pytest.raises(NotPlain):
        list(plain.chunks(["t1"]))


def test_deep_json_is_not_plain(tmp_path: Path) -> None:
    header = "id,tenant_id,event_type,occurred_at,properties\n"
    plain = _plain(tmp_path, header + "e1,t1,login,2025-03-01T08:00:00Z," + "[" * 1001 + "]" * 1001 + "\n", "events")
    assert plain is not None
    with pytest.raises(NotPlain):
        list(plain.chunks(["t1"]))


@pytest.mark.parametrize(
    "header",
    [
        HEADER + ",extra",  # a column the contract does not have
        HEADER.replace("occurred_at", "id"),  # a column twice, and a required one missing
        HEADER.replace(",occurred_at", ""),  # a required column missing
        HEADER.replace("route", '"route"'),  # a quoted header
    ],
)
def test_a_header_copy_cannot_take_as_it_is_offers_no_plain_lines(tmp_path: Path, header: str) -> None:
    assert _plain(tmp_path, header + "\n" + _lines(2)) is None


def test_tenants_are_known_by_their_exact_bytes(tmp_path: Path) -> None:
    known = ["t{1}", "t\\2", "t'3", "NULL", "t 5", "tenant-é", "a-much-longer-tenant-id-0001"]
    body = "".join(f"r{i},{tenant},u1,GET,/a,200,1.5,2025-03-01T08:00:00Z\n" for i, tenant in enumerate(known))
    body += "r9,,u1, GET,/a,200,1.5,2025-03-01T08:00:00Z\n"  # a null tenant is left to NOT NULL; not a required text
    plain = _plain(tmp_path, HEADER + "\n" + body)
    assert plain is not None and plain.judges == {"blank", "tenant"}
    assert b"".join(plain.chunks(known)).decode() == body
    for others in ([], known[1:], [tenant + "x" for tenant in known]):
        plain = _plain(tmp_path, HEADER + "\n" + body)
        assert plain is not None
        with pytest.raises(NotPlain):
            list(plain.chunks(others))


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_a_tenant_in_the_last_field_is_judged_without_its_line_end(tmp_path: Path, eol: str) -> None:
    header = "id,user_id,method,route,status_code,duration_ms,occurred_at,tenant_id"
    body = "".join(
        f"r{i},u1,GET,/a,200,1.5,2025-03-01T08:00:00Z,{tenant}{eol}" for i, tenant in enumerate(["t1", "t22"])
    )
    plain = _plain(tmp_path, header + eol + body)
    assert plain is not None
    assert b"".join(plain.chunks(["t1", "t22"])).decode() == body
    plain = _plain(tmp_path, header + eol + body)
    assert plain is not None
    with pytest.raises(NotPlain):
        list(plain.chunks(["t1", "t2"]))
