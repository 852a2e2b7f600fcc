-- Reset every sequence a table column uses past the data of every column that uses it.
--
-- A column uses a sequence when it owns it (serial, identity, OWNED BY) or when its default
-- calls nextval() on it, owned or not: nextval('x_seq'::regclass) is found through the
-- default's recorded dependency, nextval('x_seq'::text) / 'Odd"Name' / schema-qualified names
-- by parsing the default (pg_get_expr) and resolving the name as Postgres would. One sequence
-- may feed several tables or columns: it is set past the largest value in ANY of them.
-- With data: setval(seq, MAX) so the next value is MAX + increment; when every column is
-- empty (or MAX is below the start): the start value with is_called = false, so the next
-- value is exactly the start. Runs as the tables' owner (no superuser needed).
-- By hand:  psql "$PG_URL" -v ON_ERROR_STOP=1 -f scripts/reset_sequences.sql
DO $$
DECLARE
    seq record;
    i integer;
    col_max bigint;
    max_value bigint;
BEGIN
    FOR seq IN
        SELECT users_of.sequence_oid, users_of.sequence_name, p.seqstart, p.seqincrement,
               array_agg(users_of.table_schema ORDER BY ordering.place) AS schemas,
               array_agg(users_of.table_name ORDER BY ordering.place) AS tables,
               array_agg(users_of.column_name ORDER BY ordering.place) AS columns,
               string_agg(format('%I.%I', users_of.table_name, users_of.column_name), ', '
                          ORDER BY ordering.place) AS used_by
        FROM (
    -- sequence-users:start (sqlite_to_pg.sequences reads the query between these markers)
    WITH user_columns AS (
        SELECT att.attrelid, att.attnum, ns.nspname AS table_schema,
               rel.relname AS table_name, att.attname AS column_name
        FROM pg_attribute att
        JOIN pg_class rel ON rel.oid = att.attrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE rel.relkind IN ('r', 'p') AND att.attnum > 0 AND NOT att.attisdropped
          AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
          AND ns.nspname !~ '^pg_'
    ), users AS (
        -- owned: serial and OWNED BY ('a'), identity ('i')
        SELECT dep.objid AS sequence_oid, dep.refobjid AS attrelid, dep.refobjsubid AS attnum
        FROM pg_depend dep
        JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
        WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
          AND dep.deptype IN ('a', 'i') AND dep.refobjsubid > 0
        UNION
        -- a default naming the sequence as a regclass constant: nextval('x'::regclass)
        SELECT dep.refobjid, def.adrelid, def.adnum
        FROM pg_attrdef def
        JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = def.oid
             AND dep.refclassid = 'pg_class'::regclass
        JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
        UNION
        -- a default naming it as text (resolved when called): nextval('x'::text)
        SELECT to_regclass(replace(found.match[1], '''''', '''')), def.adrelid, def.adnum
        FROM pg_attrdef def,
             regexp_matches(pg_get_expr(def.adbin, def.adrelid),
                            'nextval\(\(?''((?:[^'']|'''')+)''', 'g') AS found(match)
    )
    SELECT DISTINCT users.sequence_oid, users.sequence_oid::regclass::text AS sequence_name,
           col.table_schema, col.table_name, col.column_name
    FROM users
    JOIN user_columns col ON col.attrelid = users.attrelid AND col.attnum = users.attnum
    JOIN pg_class s ON s.oid = users.sequence_oid AND s.relkind = 'S'
    -- sequence-users:end
        ) users_of (sequence_oid, sequence_name, table_schema, table_name, column_name)
        CROSS JOIN LATERAL (SELECT ARRAY[users_of.table_schema, users_of.table_name,
                                         users_of.column_name] AS place) AS ordering
        JOIN pg_sequence p ON p.seqrelid = users_of.sequence_oid
        GROUP BY 1, 2, 3, 4 ORDER BY 2
    LOOP
        max_value := NULL;
        FOR i IN 1 .. cardinality(seq.tables) LOOP
            EXECUTE format(CASE WHEN seq.seqincrement > 0
                                THEN 'SELECT max(%I)::bigint FROM %I.%I'
                                ELSE 'SELECT min(%I)::bigint FROM %I.%I' END,
                           seq.columns[i], seq.schemas[i], seq.tables[i]) INTO col_max;
            IF col_max IS NOT NULL AND (max_value IS NULL
                    OR (seq.seqincrement > 0 AND col_max > max_value)
                    OR (seq.seqincrement < 0 AND col_max < max_value)) THEN
                max_value := col_max;
            END IF;
        END LOOP;
        IF max_value IS NULL OR (seq.seqincrement > 0 AND max_value < seq.seqstart)
                OR (seq.seqincrement < 0 AND max_value > seq.seqstart) THEN
            PERFORM setval(seq.sequence_oid::regclass, seq.seqstart, false);
            RAISE NOTICE 'sequence % (used by %): next value % (start)',
                seq.sequence_name, seq.used_by, seq.seqstart;
        ELSE
            PERFORM setval(seq.sequence_oid::regclass, max_value, true);
            RAISE NOTICE 'sequence % (used by %): next value after %',
                seq.sequence_name, seq.used_by, max_value;
        END IF;
    END LOOP;
END
$$;
