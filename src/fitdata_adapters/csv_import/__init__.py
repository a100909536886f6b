"""Reading CSV and Excel files for imports: format detection, streamed rows, mapped records.

* :func:`open_table` opens a ``.csv`` (any of UTF-8 with or without BOM, UTF-16, Windows-1255,
  Windows-1252; delimiters ``,`` ``;`` tab ``|``) or an ``.xlsx`` (first sheet or a named one)
  and streams its rows under cleaned headers;
* :func:`analyse` is the upload preview (headers, suggested mapping, first rows, row count,
  detected format, warnings);
* :func:`read_records` streams mapped records for a confirmed mapping; :func:`import_records`
  does both.

The rules (field vocabulary, mapping suggestion and validation, value fixes) are pure and live
in ``fitdata_core.rules`` (``import_fields``, ``csv_mapping``, ``csv_values``, ``csv_table``).
"""

from fitdata_adapters.csv_import.files import StoredImportFiles
from fitdata_adapters.csv_import.pipeline import (
    Analysis,
    RecordStream,
    analyse,
    import_records,
    read_records,
)
from fitdata_adapters.csv_import.table import Detected, Source, Table, open_table

__all__ = [
    "Analysis",
    "Detected",
    "RecordStream",
    "Source",
    "StoredImportFiles",
    "Table",
    "analyse",
    "import_records",
    "open_table",
    "read_records",
]
