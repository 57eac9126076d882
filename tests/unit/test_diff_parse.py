"""The diff parser on literal `git diff-tree -p` output: paths, line numbers, bounds."""

from __future__ import annotations

import io
from collections.abc import Iterator

from culm.git.diff import ADDED, CONTEXT, REMOVED, DiffParser, find_copy_source, parse_numstat, read_lines, unquote


def parse(data: bytes, **kw: object) -> tuple[list, DiffParser]:
    parser = DiffParser(**kw)  # type: ignore[arg-type]
    return list(parser.parse(io.BytesIO(data))), parser


MODIFIED = b"""diff --git a/src/app.py b/src/app.py
index 1111111..2222222 100644
--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,4 @@ def main():
 one
-two
+TWO
 three
 four
@@ -20,3 +20,5 @@ class X:
 twenty
+new a
+new b
 twenty-one
 twenty-two
"""


def test_hunks_segments_and_line_numbers() -> None:
    files, parser = parse(MODIFIED)
    assert not parser.truncated and len(files) == 1
    f = files[0]
    assert (f.source, f.destination, f.change, f.binary) == ("src/app.py", "src/app.py", "MODIFY", False)
    first, second = f.hunks
    assert (first.source_line, first.source_span, first.destination_line, first.destination_span) == (1, 4, 1, 4)
    assert first.context == "def main():"
    assert [s.type for s in first.segments] == [CONTEXT, REMOVED, ADDED, CONTEXT]
    assert [(x.source, x.destination, x.text) for s in first.segments for x in s.lines] == [
        (1, 1, "one"), (2, 2, "two"), (3, 2, "TWO"), (3, 3, "three"), (4, 4, "four")]
    assert [(x.source, x.destination, x.text) for s in second.segments for x in s.lines] == [
        (20, 20, "twenty"), (21, 21, "new a"), (21, 22, "new b"), (21, 23, "twenty-one"), (22, 24, "twenty-two")]


def test_added_deleted_binary_and_no_newline() -> None:
    data = b"""diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+a
+b
\\ No newline at end of file
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 3333333..0000000
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-x
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..4444444
Binary files /dev/null and b/logo.png differ
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
"""
    files, _ = parse(data)
    new, gone, logo, mode = files
    assert (new.source, new.destination, new.change) == (None, "new.txt", "ADD")
    assert [(x.source, x.destination) for x in new.hunks[0].segments[0].lines] == [(1, 1), (1, 2)]
    assert (gone.source, gone.destination, gone.change) == ("gone.txt", None, "DELETE")
    assert [(x.source, x.destination, x.text) for x in gone.hunks[0].segments[0].lines] == [(1, 1, "x")]
    assert (logo.source, logo.destination, logo.binary, logo.hunks) == (None, "logo.png", True, [])
    assert (mode.source, mode.destination, mode.hunks) == ("run.sh", "run.sh", [])


def test_renames_copies_spaces_and_quoted_names() -> None:
    data = b"""diff --git a/old name.txt b/new name.txt
similarity index 90%
rename from old name.txt
rename to new name.txt
index 1..2 100644
--- a/old name.txt\t
+++ b/new name.txt\t
@@ -1 +1 @@
-a
+b
diff --git a/base.c b/copy.c
similarity index 100%
copy from base.c
copy to copy.c
diff --git "a/caf\\303\\251 \\"q\\".txt" "b/caf\\303\\251 \\"q\\".txt"
index 1..2 100644
--- "a/caf\\303\\251 \\"q\\".txt"
+++ "b/caf\\303\\251 \\"q\\".txt"
@@ -1 +1 @@
-x
+y
diff --git a/a b/c b/a b/c
index 1..2 100644
--- a/a b/c\t
+++ b/a b/c\t
@@ -1 +1 @@
-x
+y
"""
    files, _ = parse(data)
    assert [(f.source, f.destination, f.change) for f in files] == [
        ("old name.txt", "new name.txt", "MOVE"), ("base.c", "copy.c", "COPY"),
        ('caf\u00e9 "q".txt', 'caf\u00e9 "q".txt', "MODIFY"), ("a b/c", "a b/c", "MODIFY")]


def test_non_utf8_content_and_names_are_replaced() -> None:
    data = (b"diff --git a/x\xff b/x\xff\nindex 1..2 100644\n--- a/x\xff\n+++ b/x\xff\n"
            b"@@ -1 +1 @@\n-\xfe\xff\n+ok\n")
    files, _ = parse(data)
    assert files[0].destination == "x\ufffd"
    assert files[0].hunks[0].segments[0].lines[0].text == "\ufffd\ufffd"


def test_unquote() -> None:
    assert unquote(b'"a\\tb\\\\c\\"d\\303\\251"') == b'a\tb\\c"d\xc3\xa9'
    assert unquote(b"plain") == b"plain"


class CountingStream(io.RawIOBase):
    """An endless diff that counts how much was read: the parser must stop at its bound."""

    def __init__(self) -> None:
        self.served = 0
        self.buffer = b"diff --git a/big b/big\nindex 1..2 100644\n--- a/big\n+++ b/big\n@@ -1,1000000 +1,1000000 @@\n"

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        while len(self.buffer) < len(b):
            self.buffer += b"-old line\n+new line\n" * 100
        n = len(b)
        b[:n] = self.buffer[:n]
        self.buffer = self.buffer[n:]
        self.served += n
        return n


def test_truncation_marks_every_level_and_stops_reading() -> None:
    stream = CountingStream()
    parser = DiffParser(max_lines=50)
    files = list(parser.parse(io.BufferedReader(stream)))
    assert parser.truncated
    (f,) = files
    assert f.truncated and f.hunks[-1].truncated and f.hunks[-1].segments[-1].truncated
    assert sum(len(s.lines) for s in f.hunks[0].segments) == 50
    assert stream.served < 64 * 1024  # a buffer or so, not the endless rest


def test_exact_bound_is_not_truncated() -> None:
    files, parser = parse(MODIFIED, max_lines=11)
    assert not parser.truncated and not files[0].truncated


def test_file_bound() -> None:
    files, parser = parse(MODIFIED * 3, max_files=2)
    assert parser.truncated and len(files) == 2


def test_long_lines_are_cut_and_skipped() -> None:
    long = b"+" + b"x" * 100_000
    data = (b"diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1 +1,2 @@\n-a\n" + long + b"\n+short\n")
    files, _ = parse(data, max_line_length=10)
    lines = files[0].hunks[0].segments[1].lines
    assert (lines[0].text, lines[0].truncated) == ("x" * 10, True)
    assert (lines[1].text, lines[1].truncated) == ("short", False)


def test_read_lines_never_returns_more_than_asked() -> None:
    got = list(read_lines(io.BufferedReader(io.BytesIO(b"abc\n" + b"y" * 500 + b"\nend")), 8))  # type: ignore[arg-type]
    assert got == [(b"abc", False), (b"yyyyyyyy", True), (b"end", False)]


def test_keep_filter_does_not_spend_the_budget() -> None:
    other = MODIFIED.replace(b"src/app.py", b"other.py")
    files, parser = parse(other + MODIFIED, max_lines=11, keep=lambda f: f.destination == "src/app.py")
    assert [f.destination for f in files] == ["src/app.py"] and not parser.truncated


def test_numstat() -> None:
    data = b"3\t1\tsrc/a.py\0-\t-\tlogo.png\0" + b"2\t0\t\0old.txt\0new.txt\0"
    assert parse_numstat(io.BytesIO(data)) == (3, 5, 1)
    assert parse_numstat(io.BytesIO(data), keep=lambda s, d: d == "new.txt") == (1, 2, 0)


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def test_numstat_across_chunk_boundaries() -> None:
    data = b"".join(b"1\t2\tfile%d\0" % i for i in range(20_000))

    class Slow(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = _chunks(data, 7)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            return next(self.parts, b"")

    assert parse_numstat(Slow()) == (20_000, 20_000, 40_000)  # type: ignore[arg-type]


def test_find_copy_source() -> None:
    data = b"M\0a.txt\0R087\0old.txt\0new.txt\0C100\0base.c\0copy.c\0D\0gone\0"
    assert find_copy_source(io.BytesIO(data), "new.txt") == "old.txt"
    assert find_copy_source(io.BytesIO(data), "copy.c") == "base.c"
    assert find_copy_source(io.BytesIO(data), "a.txt") is None
    assert find_copy_source(io.BytesIO(data), "gone") is None
