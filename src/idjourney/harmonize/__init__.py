"""Harmonise each source database's native export to the common record standard.

One declarative TOML mapping per source (``idjourney/harmonize/sources/*.toml``) names
its columns, date formats, code lists, constant fields and layout (wide or long); the
same file drives the inverse, standard records -> native export. A new source is a new
mapping file, no code.

>>> from idjourney.harmonize import load_mapping, harmonize_file  # doctest: +SKIP
>>> records = harmonize_file("europol_export.csv", "europol")    # doctest: +SKIP
"""

from idjourney.harmonize.convert import to_native, to_standard
from idjourney.harmonize.errors import HarmonizeError, MappingError
from idjourney.harmonize.files import harmonize_file, read_native, write_native
from idjourney.harmonize.mapping import (
    LongLayout,
    SourceMapping,
    available_sources,
    load_mapping,
    mapping_from_dict,
)

__all__ = [
    "HarmonizeError",
    "LongLayout",
    "MappingError",
    "SourceMapping",
    "available_sources",
    "harmonize_file",
    "load_mapping",
    "mapping_from_dict",
    "read_native",
    "to_native",
    "to_standard",
    "write_native",
]
