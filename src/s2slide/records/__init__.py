"""The book's own records: what each chapter ran on, what it cost and what it found.

- :mod:`s2slide.records.carbon`: codecarbon, offline and silent, as a small :class:`Footprint`
  (chapter 7);
- :mod:`s2slide.records.footprint`: a footprint in context (everyday equivalents, seed 000's
  figures, the table of every chapter);
- :mod:`s2slide.records.results`: each chapter's results file and the book's statistics page
  (``python -m s2slide.records.results``);
- :mod:`s2slide.records.env`: chapter 0's checks of the machine, the packages and the endpoints.

This is the top layer of the package: it may use any other part, and no other part uses it
(``tests/test_layout.py``).
"""
