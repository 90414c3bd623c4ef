-- PostgreSQL takes the positions of the other streams /sync reads from
-- sequences from here on; SQLite keeps the streams rows (see 0021).
SELECT 1;
