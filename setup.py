"""The one part of the package that is not Python: the built-in loader's hot path in C
(backend/sqlite_to_pg/native, see sqlite_to_pg.native_rows). It is optional: where it cannot be
built (no compiler, no SQLite headers) the install goes on and the loader builds its rows in
SQL, more slowly, to the same bytes."""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "sqlite_to_pg._copy_rows_native",
    sources=["backend/sqlite_to_pg/native/copy_rows_native.c",
             "backend/sqlite_to_pg/native/jsonb_text.c",
             "backend/sqlite_to_pg/native/row_hash.c",
             "backend/sqlite_to_pg/native/text_hash.c"],
    extra_compile_args=["-O2"],
    optional=True,
)])
