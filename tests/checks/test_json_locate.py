"""JSON pointer <-> span: escaping, duplicates, non-ASCII, absent paths, and the shared document view."""

from __future__ import annotations

from guardrails.document import Document
from guardrails.jsonparse import document_view, locate, pointer_from_path
from guardrails.jsonparse.locate import path_from_pointer


def test_pointer_escaping_round_trips() -> None:
    path = ["a/b", "m~n", "", "日本", "0"]
    pointer = pointer_from_path(path)
    assert pointer == "/a~1b/m~0n//日本/0"
    assert path_from_pointer(pointer) == path


def test_locate_values_and_member_keys() -> None:
    text = ' {"a/b": [10, {"ключ": "значение"}], "a": 1, "a": {"x": null}} '
    found = locate(text, 0, ["a/b", 1, "ключ"])
    assert found is not None and text[found.start : found.end] == '"значение"'
    assert found.key_start is not None and text[found.key_start : found.end] == '"ключ": "значение"'
    dup = locate(text, 0, ["a", "x"])  # duplicate keys: the last one, as json.loads keeps
    assert dup is not None and text[dup.start : dup.end] == "null"
    assert locate(text, 0, ["a/b", 5]) is None
    assert locate(text, 0, ["a/b", "x"]) is None
    assert locate(text, 0, ["nope"]) is None
    root = locate(text, 0, [])
    assert root is not None and text[root.start : root.end] == text.strip()


def test_document_view_is_parsed_once_and_shared() -> None:
    doc = Document('{"a": 1}')
    first = document_view(doc)
    assert document_view(doc) is first
    assert first.value == {"a": 1} and first.strict


def test_span_to_pointer() -> None:
    text = 'Answer: {"user": {"email": "ana@example.com", "tags": ["a", "zoë"]}, "n": 1}'
    view = document_view(Document(text), expect_json=True)
    assert view.pointer_at(text.index("ana@")) == "/user/email"
    assert view.pointer_at(text.index("zoë")) == "/user/tags/1"
    assert view.pointer_at(text.index('"n"')) == ""  # a key belongs to its object
    assert view.pointer_at(text.index("1}")) == "/n"
    assert view.pointer_at(0) is None  # prose, not JSON
