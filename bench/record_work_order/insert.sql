-- (a) a single-row INSERT of a minimal work order: the practical limit.
\set n random(1, 9000000000000000000)
\set p random(1, 4)
\set s random(0, 1000)
INSERT INTO baseline.plain_work_orders VALUES ('wo-' || :client_id || '-' || :n, 'model-' || :p, :s / 1000.0, 0);
