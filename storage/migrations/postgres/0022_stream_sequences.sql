-- The other streams /sync reads take their positions from sequences too,
-- as events did in 0021: their rows serialised every receipt, to-device
-- message, account data change, device list change and presence update
-- until commit. Their streams rows stay behind at the positions they had.
CREATE SEQUENCE receipts_stream_pos;
CREATE SEQUENCE to_device_stream_pos;
CREATE SEQUENCE account_data_stream_pos;
CREATE SEQUENCE device_lists_stream_pos;
CREATE SEQUENCE presence_stream_pos;
SELECT setval(name || '_stream_pos', GREATEST(pos, 1), pos > 0) FROM streams
    WHERE name IN ('receipts', 'to_device', 'account_data', 'device_lists', 'presence');
