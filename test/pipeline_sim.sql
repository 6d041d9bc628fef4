-- A simulated code-generation pipeline for the demo (test/demo) and its
-- test: an orchestrator that routes each work order, builds its prompt,
-- "generates" code whose compiler errors depend on what the prompt said,
-- and reports the result.  Load it into a database that has the extension
-- (psql -f test/pipeline_sim.sql), then
--
--     CALL sim.run(first_index, how_many [, per_transaction [, seed]]);
--
-- The model of the pipeline, in the tables below:
--   - each proposer has a skill; a work order of complexity score s sent to
--     a proposer of skill k ends with error code c with probability
--     base_rate(c) * (0.4 + s) / k * factor;
--   - the orchestrator asks build_enhanced_prompt for the codes it expects
--     (each code with probability expect_share), so some work orders go
--     without a code's enhancement and its effect can be measured;
--   - factor is 1 unless the prompt the work order got (build_enhanced_prompt,
--     its `used` tokens CODE@N) carried a live text for c (N > 0); then it
--     is strong_factor when the text says what fixes the error (it matches
--     the code's keyword, e.g. "quot" for TS1443's quoting of module names)
--     and weak_factor otherwise.  So the two arms of an A/B test really
--     differ, and a vague text helps less than a precise one;
--   - some generated code has backtick-quoted module names: the sanitizer
--     fixes them (unquoted_module_declarations), and their TS1443 moves to
--     excluded_error_codes instead of being learned;
--   - a work order with no error left succeeds; a few stall; about a third
--     of the others are partials (more than half of their errors fixed).
-- Work order ids are 'wo-' and a zero-padded index, so rounds can be told
-- apart by index.

CREATE SCHEMA sim;

CREATE TABLE sim.proposers (
    name      text PRIMARY KEY,
    threshold float8 NOT NULL,
    cost_rank integer NOT NULL,
    skill     float8 NOT NULL
);
INSERT INTO sim.proposers VALUES
    ('gpt-4o-mini', 0.3, 1, 0.85),
    ('claude-haiku', 0.6, 2, 1.0),
    ('gpt-4o', 0.85, 5, 1.3),
    ('claude-sonnet', 1.0, 10, 1.6);

CREATE TABLE sim.codes (
    code          text PRIMARY KEY,
    base_rate     float8 NOT NULL,
    keyword       text NOT NULL,    -- what a helpful instruction talks about (regex)
    strong_factor float8 NOT NULL,  -- rate factor with a text that matches keyword
    weak_factor   float8 NOT NULL,  -- with any other text
    message       text NOT NULL
);
INSERT INTO sim.codes VALUES
    ('TS1443', 0.16, 'quot', 0.15, 0.85,
     'Module declaration names may only use '' or " quoted strings.'),
    ('TS2345', 0.22, 'argument', 0.15, 0.85,
     'Argument of type ''string | undefined'' is not assignable to parameter of type ''string''.'),
    ('TS2322', 0.14, 'assignab', 0.25, 0.85,
     'Type ''number'' is not assignable to type ''string''.'),
    ('TS7006', 0.12, 'annotat', 0.15, 0.85,
     'Parameter ''item'' implicitly has an ''any'' type.'),
    ('TS2339', 0.08, 'optional chaining|narrow', 0.2, 0.95,
     'Property ''id'' does not exist on type ''{}''.');

-- Share of work orders whose code had backtick-quoted module names.
CREATE TABLE sim.settings (
    backtick_share    float8 NOT NULL DEFAULT 0.06,
    band_share        float8 NOT NULL DEFAULT 0.3,   -- scores drawn in [0.3, 0.4)
    expect_share      float8 NOT NULL DEFAULT 0.9,   -- codes asked for per work order
    stall_probability float8 NOT NULL DEFAULT 0.02
);
INSERT INTO sim.settings DEFAULT VALUES;

-- Register the proposers with the extension (before any work order).
CREATE PROCEDURE sim.register_proposers()
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM sim.proposers ORDER BY cost_rank LOOP
        PERFORM register_proposer(p.name, p.threshold, p.cost_rank);
    END LOOP;
END
$$;

-- Run work orders first_index .. first_index + how_many - 1, committing
-- every per_transaction of them (an orchestrator commits each one; the
-- demo batches them to run thousands in seconds).
CREATE PROCEDURE sim.run(first_index bigint, how_many integer,
                         per_transaction integer DEFAULT 100, seed float8 DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    s sim.settings;
    all_codes text[];
    expected text[];
    i bigint;
    id text;
    score float8;
    proposer text;
    multiplier float8;
    prompt_version text;
    used text[];
    c record;
    token text;
    n integer;
    factor float8;
    fired text[];
    samples jsonb;
    changes text[];
    initial integer;
    final integer;
    stalled boolean;
BEGIN
    SELECT * INTO s FROM sim.settings;
    SELECT array_agg(code ORDER BY code) INTO all_codes FROM sim.codes;
    IF seed IS NOT NULL THEN
        PERFORM setseed(seed);
    END IF;
    FOR i IN first_index .. first_index + how_many - 1 LOOP
        id := 'wo-' || lpad(i::text, 7, '0');
        score := round((CASE WHEN random() < s.band_share THEN 0.3 + 0.1 * random()
                             ELSE random() END)::numeric, 3)::float8;
        proposer := route_work_order(score, id);
        SELECT (0.4 + score) / p.skill INTO multiplier FROM sim.proposers p WHERE p.name = proposer;
        SELECT coalesce(array_agg(x ORDER BY x), '{}') INTO expected
          FROM unnest(all_codes) x WHERE random() < s.expect_share;
        SELECT b.version, b.used INTO prompt_version, used
          FROM build_enhanced_prompt(proposer, expected, id) b;

        fired := '{}';
        samples := '[]';
        FOR c IN SELECT * FROM sim.codes ORDER BY code LOOP
            factor := 1;
            SELECT t INTO token FROM unnest(used) t WHERE split_part(t, '@', 1) = c.code LIMIT 1;
            n := coalesce(nullif(split_part(token, '@', 2), '')::integer, 0);
            IF n > 0 THEN
                SELECT CASE WHEN v.enhancement_text ~* c.keyword THEN c.strong_factor
                            ELSE c.weak_factor END
                  INTO factor
                  FROM enhancement_versions v WHERE v.error_code = c.code AND v.version = n;
            END IF;
            IF random() < c.base_rate * multiplier * factor THEN
                fired := fired || c.code;
                samples := samples || jsonb_build_object('code', c.code, 'message', c.message);
            END IF;
        END LOOP;

        -- Backtick-quoted module names: the sanitizer fixes them before
        -- compiling; the orchestrator reports the change and the code.
        changes := '{}';
        IF random() < s.backtick_share THEN
            changes := '{unquoted_module_declarations}';
            IF NOT 'TS1443' = ANY (fired) THEN
                fired := fired || 'TS1443'::text;
            END IF;
        END IF;

        stalled := random() < s.stall_probability;
        final := coalesce(cardinality(array_remove(fired, CASE WHEN changes <> '{}' THEN 'TS1443' END)), 0);
        final := final * (1 + (random() < 0.3)::integer);
        -- Refinement fixed more than half of the errors (a partial) in
        -- about a third of the work orders that kept some.
        IF random() < 0.35 THEN
            initial := 2 * final + 1 + floor(random() * 3)::integer;
        ELSE
            initial := final + floor(random() * (final + 1))::integer;
        END IF;
        PERFORM record_work_order(proposer, score, initial, final, stalled, fired, samples,
                                  prompt_version, used, changes, id);
        IF (i - first_index + 1) % per_transaction = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END
$$;
