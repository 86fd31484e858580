"""Work inside one category, split into shards that run in-process or on Ray (issue 13)."""
