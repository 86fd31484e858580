"""Human review: people confirm or overrule the machine's keep/reject calls (CRAFT, section 4.2).

``decisions`` holds the vocabulary, the CSV import, the conflict rule and the table;
``label_studio`` the labelling config, task import, export parsing and a thin SDK client;
``simulate`` a deterministic stand-in for the people, for the demo; ``tasks_and_exports`` the
review tasks and exports in storage, per category.

Layering: ``review`` sits above ``curation`` (it imports curation's reason vocabulary) and
below ``captioning`` and ``translation`` (which read its decisions and ``RowProblem``), so it
imports neither of those, and curation never imports review.
"""
