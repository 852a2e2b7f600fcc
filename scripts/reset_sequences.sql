-- Reset every serial AND identity sequence past the data in its column, in one DO block.
--
-- Walks every column that pg_get_serial_sequence() knows (serial and identity alike) in every
-- user schema.  A column with data gets setval(seq, MAX(column)) so the next value is MAX + 1;
-- an empty column (or one whose MAX is below the sequence's start) gets the start value with
-- is_called = false, so the next value is exactly the start.  Runs as the tables' owner (no
-- superuser needed).  By hand:  psql "$PG_URL" -v ON_ERROR_STOP=1 -f scripts/reset_sequences.sql
DO $$
DECLARE
    col record;
    seq_name text;
    max_value bigint;
    start_value bigint;
BEGIN
    FOR col IN
        SELECT ns.nspname AS schema_name, rel.relname AS table_name, att.attname AS column_name
        FROM pg_attribute att
        JOIN pg_class rel ON rel.oid = att.attrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE rel.relkind IN ('r', 'p') AND att.attnum > 0 AND NOT att.attisdropped
          AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
          AND ns.nspname NOT LIKE 'pg\_%'
        ORDER BY 1, 2, att.attnum
    LOOP
        -- The table argument is parsed as SQL (so it is quoted); the column one is literal.
        seq_name := pg_get_serial_sequence(format('%I.%I', col.schema_name, col.table_name),
                                           col.column_name);
        CONTINUE WHEN seq_name IS NULL;
        EXECUTE format('SELECT max(%I)::bigint FROM %I.%I',
                       col.column_name, col.schema_name, col.table_name) INTO max_value;
        SELECT seq.seqstart INTO start_value FROM pg_sequence seq
        WHERE seq.seqrelid = seq_name::regclass;
        IF max_value IS NULL OR max_value < start_value THEN
            PERFORM setval(seq_name, start_value, false);
            RAISE NOTICE 'sequence % of %.%: next value % (start)',
                seq_name, col.table_name, col.column_name, start_value;
        ELSE
            PERFORM setval(seq_name, max_value, true);
            RAISE NOTICE 'sequence % of %.%: next value after %',
                seq_name, col.table_name, col.column_name, max_value;
        END IF;
    END LOOP;
END
$$;
