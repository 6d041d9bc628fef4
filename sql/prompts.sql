--
-- Prompt registry and build_enhanced_prompt (SPEC 4.2)
--
-- The background worker serves another database; its WARNING is not tested here.
SET client_min_messages = error;
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT register_proposer('regress-model', 0.4, 1);

-- A proposer without an active version gets the built-in default, v1.0.
SELECT version, base_prompt FROM get_active_prompt_version('regress-model');

-- Register two versions; activating one deactivates the other.
SELECT register_prompt_version('regress-model', 'regress-model/v1',
                               'Write TypeScript for the task below.') IS NOT NULL AS registered;
SELECT activate_prompt_version('regress-model/v1');
SELECT register_prompt_version('regress-model', 'regress-model/v2',
                               'Write strict TypeScript for the task below. Return only code.',
                               system_changes => 'stricter wording',
                               activate => true) IS NOT NULL AS registered;
SELECT version, is_active, replaced_version, promoted_at IS NOT NULL AS promoted
  FROM prompt_versions WHERE proposer_name = 'regress-model' ORDER BY version;
SELECT * FROM get_active_prompt_version('regress-model');

-- Rollback reactivates the version the active one replaced.
SELECT rollback_prompt_version('regress-model');
SELECT version, is_active FROM prompt_versions
 WHERE proposer_name = 'regress-model' ORDER BY version;

-- Every change of the active version is in version_history, with the
-- calling role (shown here as <me>) and the reason.
SELECT old_version, new_version, action, changed_by = current_user AS by_me,
       replace(reason, current_user, '<me>') AS reason
  FROM version_history WHERE subject = 'regress-model' ORDER BY id;

-- Errors name the argument and change nothing.
SELECT activate_prompt_version('regress-model/v9');
SELECT register_prompt_version('regress-model', 'regress-model/v1', 'Again.');
SELECT register_prompt_version('regress-model', 'regress-model/v3', '');

--
-- Enhancements, one per error code, higher priority first
--
SELECT set_enhancement('TS1443', 'Quote module names: declare module ''my-lib'' { ... }.', 9);
SELECT set_enhancement('TS2345', 'Check each argument against the parameter''s declared type.', 7);
SELECT set_enhancement('TS7006', 'Give every function parameter an explicit type.', 5);
SELECT set_enhancement('TS2339', 'Only use properties that the type declares.', 3);
SELECT set_enhancement('TS2304', 'Import or declare every name before using it.', 2);
SELECT set_enhancement('TS2322', 'Make each assigned value match the declared type.', 1);
SELECT set_enhancement('TS2345', 'Compare each argument with the parameter''s declared type.', 7);
SELECT error_code, version, status FROM enhancement_versions ORDER BY error_code, version;

-- The exact prompt: the active version's text, then the enhancements of the
-- given codes by priority (TS2345: 7, TS7006: 5); TS9999 has none.
\pset format unaligned
SELECT prompt FROM build_enhanced_prompt('regress-model', '{TS7006,TS2345,TS9999}');
\pset format aligned
SELECT version, used FROM build_enhanced_prompt('regress-model', '{TS7006,TS2345,TS9999}');

-- At most adaptive_prompts.max_enhancements (5) of six codes: the lowest
-- priority (TS2322) is left out.
SHOW adaptive_prompts.max_enhancements;
SELECT used FROM build_enhanced_prompt('regress-model',
                                       '{TS2322,TS2304,TS2339,TS7006,TS2345,TS1443}');

-- Without codes: the proposer's frequent codes that have an enhancement,
-- from proposer_frequent_codes (refreshed off the hot path).
SELECT (record_work_order('regress-model', 0.5, 3, 2, false, codes)).outcome
  FROM (VALUES ('{TS1005,TS2345}'::text[]), ('{TS1005,TS2345,TS2339}'), ('{TS1005,TS2345}'),
               ('{TS1005,TS2339}'), ('{TS2322}')) AS w (codes);
SELECT refresh_enhancement_stats();
SELECT error_code, occurrence_count FROM proposer_frequent_codes
 WHERE proposer_name = 'regress-model' ORDER BY occurrence_count DESC, error_code;
SELECT used FROM build_enhanced_prompt('regress-model');
SELECT used FROM build_enhanced_prompt('someone-else');

-- Errors
SELECT * FROM build_enhanced_prompt(NULL);
SELECT * FROM build_enhanced_prompt('regress-model', '{TS2345,""}');
SELECT set_enhancement('TS2345', 'Too important.', 1000);

DROP EXTENSION adaptive_prompts;
