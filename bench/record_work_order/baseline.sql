-- The baseline a user would otherwise write: a plain PL/pgSQL port of the
-- notes' Components 5-6 (log or sample, insert the attempt, prune by
-- cutoff, recompute the window, upsert the metrics), with the SPEC's fixes
-- to ordering (by id, not timestamp) and metrics on every call.
CREATE SCHEMA baseline;

CREATE TABLE baseline.proposer_failures (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    work_order_id text, proposer_name text NOT NULL, complexity_score float8 NOT NULL,
    complexity_band text NOT NULL, initial_errors int NOT NULL, final_errors int NOT NULL,
    stalled boolean NOT NULL, improvement_rate float8 NOT NULL, outcome text NOT NULL,
    error_codes text[] NOT NULL, error_samples jsonb NOT NULL, prompt_version text,
    prompt_enhancements_used text[] NOT NULL, sanitizer_changes text[] NOT NULL,
    is_sampled_success boolean NOT NULL, sample_rate float8 NOT NULL
);

CREATE TABLE baseline.proposer_attempts (
    id bigserial PRIMARY KEY,
    proposer_name text NOT NULL, complexity_band text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    was_success boolean NOT NULL, improvement_rate float8 NOT NULL
);
CREATE INDEX ON baseline.proposer_attempts (proposer_name, complexity_band, id);

CREATE TABLE baseline.proposer_success_metrics (
    proposer_name text NOT NULL, complexity_band text NOT NULL,
    attempts int NOT NULL, successes int NOT NULL, success_rate float8,
    avg_improvement_rate float8, recorded_at timestamptz NOT NULL,
    PRIMARY KEY (proposer_name, complexity_band)
);

CREATE FUNCTION baseline.record_work_order(
    p_proposer text, p_score float8, p_initial int, p_final int,
    p_stalled boolean DEFAULT false, p_codes text[] DEFAULT '{}',
    p_samples jsonb DEFAULT '[]', p_prompt_version text DEFAULT NULL,
    p_enhancements text[] DEFAULT '{}', p_changes text[] DEFAULT '{}',
    p_work_order_id text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_band text := to_char(least(floor(p_score * 10), 9) / 10, 'FM0.0') || '-'
                   || to_char((least(floor(p_score * 10), 9) + 1) / 10, 'FM0.0');
    v_improvement float8 := CASE WHEN p_initial > 0 THEN (p_initial - p_final)::float8 / p_initial
                                 WHEN p_final = 0 THEN 1 ELSE 0 END;
    v_success boolean := p_final = 0 AND NOT p_stalled;
    v_partial boolean := NOT p_stalled AND p_final > 0 AND v_improvement > 0.5;
    v_rate float8 := CASE WHEN v_success THEN 0.1 WHEN v_partial THEN 0.2 ELSE 1 END;
    v_cutoff bigint;
BEGIN
    -- Component 5: log every failure, sample the rest.
    IF v_rate = 1 OR random() < v_rate THEN
        INSERT INTO baseline.proposer_failures (work_order_id, proposer_name, complexity_score,
            complexity_band, initial_errors, final_errors, stalled, improvement_rate, outcome,
            error_codes, error_samples, prompt_version, prompt_enhancements_used,
            sanitizer_changes, is_sampled_success, sample_rate)
        VALUES (p_work_order_id, p_proposer, p_score, v_band, p_initial, p_final, p_stalled,
            v_improvement, CASE WHEN v_success THEN 'success' WHEN v_partial THEN 'partial' ELSE 'failure' END,
            p_codes, p_samples, p_prompt_version, p_enhancements, p_changes, v_rate < 1, v_rate);
    END IF;

    -- Component 6: insert the attempt, prune older than the 50th, recompute.
    INSERT INTO baseline.proposer_attempts (proposer_name, complexity_band, was_success, improvement_rate)
    VALUES (p_proposer, v_band, v_success, v_improvement);

    SELECT id INTO v_cutoff FROM baseline.proposer_attempts
     WHERE proposer_name = p_proposer AND complexity_band = v_band
     ORDER BY id DESC OFFSET 49 LIMIT 1;
    IF v_cutoff IS NOT NULL THEN
        DELETE FROM baseline.proposer_attempts
         WHERE proposer_name = p_proposer AND complexity_band = v_band AND id < v_cutoff;
    END IF;

    INSERT INTO baseline.proposer_success_metrics AS m
    SELECT p_proposer, v_band, count(*), count(*) FILTER (WHERE was_success),
           avg(was_success::int), avg(improvement_rate), now()
      FROM (SELECT was_success, improvement_rate FROM baseline.proposer_attempts
             WHERE proposer_name = p_proposer AND complexity_band = v_band
             ORDER BY id DESC LIMIT 50) w
    ON CONFLICT (proposer_name, complexity_band) DO UPDATE
       SET attempts = excluded.attempts, successes = excluded.successes,
           success_rate = excluded.success_rate,
           avg_improvement_rate = excluded.avg_improvement_rate,
           recorded_at = excluded.recorded_at;
    RETURN CASE WHEN v_success THEN 'success' WHEN v_partial THEN 'partial' ELSE 'failure' END;
END
$$;

-- (a) the practical limit: a single-row insert of a minimal work order.
CREATE TABLE baseline.plain_work_orders (
    work_order_id text, proposer_name text, complexity_score float8, final_errors int
);
