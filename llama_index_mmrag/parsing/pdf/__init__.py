"""The offline PDF parser: pypdfium2 text and images, pdfplumber's table finder, RapidOCR for scans.

One module per step, in the order a page goes through them: :mod:`.parse` (the entry point and the pool of
worker processes, with :mod:`.workers`), :mod:`.page` (one page: :mod:`.text`, :mod:`.graphics`, :mod:`.tables`,
:mod:`.figures`, :mod:`.layout`, on the shared :mod:`.geometry`), and :mod:`.document` (what only the whole
document shows: running headers and footers, repeated logos, heading levels). Importing this package imports
none of them; the suffixes read as PDF are in :mod:`llama_index_mmrag.parsing.formats`.
"""

from __future__ import annotations
