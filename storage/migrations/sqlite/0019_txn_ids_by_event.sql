-- /sync looks the transaction ids of its timelines up by event id alone
-- (and keeps the requesting device's): an index led by localpart and
-- device let PostgreSQL, before it had statistics of a freshly filled
-- table, scan all of a device's rows and test each against the event ids.
DROP INDEX txn_ids_event;
CREATE INDEX txn_ids_by_event ON txn_ids (event_id);
