-- PostgreSQL takes the events stream's positions from a sequence from
-- here on. SQLite's one writer commits in position order: it keeps the
-- streams row.
SELECT 1;
