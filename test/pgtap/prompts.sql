-- The prompt registry and the enhancement lifecycle: activation, rollback,
-- history rows, the calling role, read-only prompt building, input errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT plan(79);

SELECT register_proposer('gpt-test', 0.4, 1);

-- ---------------------------------------------------------------------------
-- Registry
-- ---------------------------------------------------------------------------
SELECT is((SELECT version FROM get_active_prompt_version('gpt-test')), 'v1.0',
          'no active version: the built-in default v1.0');
SELECT ok((SELECT base_prompt LIKE 'You are an expert TypeScript engineer.%' FROM get_active_prompt_version('gpt-test')),
          'with its documented text');

SELECT isa_ok(register_prompt_version('gpt-test', 'gpt-test/v1', 'First prompt.'), 'uuid',
              'register_prompt_version returns the id');
SELECT is((SELECT is_active FROM prompt_versions WHERE version = 'gpt-test/v1'), false,
          'a registered version is not active by default');
SELECT is((SELECT version FROM get_active_prompt_version('gpt-test')), 'v1.0',
          'so the default is still used');

SELECT lives_ok($$SELECT activate_prompt_version('gpt-test/v1')$$, 'activate_prompt_version');
SELECT is((SELECT version FROM get_active_prompt_version('gpt-test')), 'gpt-test/v1', 'it is active');
SELECT ok((SELECT promoted_at IS NOT NULL AND replaced_version IS NULL FROM prompt_versions WHERE version = 'gpt-test/v1'),
          'promoted_at set; it replaced no version (the default)');

SELECT register_prompt_version('gpt-test', 'gpt-test/v2', 'Second prompt.', 'shorter', true);
SELECT is((SELECT array_agg(version ORDER BY version) FROM prompt_versions
            WHERE proposer_name = 'gpt-test' AND is_active), '{gpt-test/v2}',
          'registering with activate => true swaps: exactly one active version');
SELECT is((SELECT replaced_version FROM prompt_versions WHERE version = 'gpt-test/v2'), 'gpt-test/v1',
          'replaced_version names the previous version');

SELECT register_prompt_version('gpt-test', 'gpt-test/v3', 'Third prompt.');
SELECT activate_prompt_version('gpt-test/v3');
SELECT is((SELECT count(*) FROM prompt_versions WHERE proposer_name = 'gpt-test' AND is_active), 1::bigint,
          'activation swaps atomically: one active version');
SELECT throws_ok($$UPDATE prompt_versions SET is_active = true WHERE version = 'gpt-test/v1'$$, '23505', NULL,
                 'a second active version for a proposer is impossible (unique partial index)');
SELECT lives_ok($$SELECT activate_prompt_version('gpt-test/v3')$$,
                'activating the active version again is harmless');

SELECT is(rollback_prompt_version('gpt-test'), 'gpt-test/v2', 'rollback returns the version it restored');
SELECT is((SELECT version FROM get_active_prompt_version('gpt-test')), 'gpt-test/v2', 'which is active again');
SELECT is(rollback_prompt_version('gpt-test'), 'gpt-test/v1', 'rolling back again goes further back');
SELECT is(rollback_prompt_version('gpt-test'), 'v1.0', 'down to the built-in default');
SELECT is((SELECT count(*) FROM prompt_versions WHERE proposer_name = 'gpt-test' AND is_active), 0::bigint,
          'no version is active then');
SELECT throws_ok($$SELECT rollback_prompt_version('gpt-test')$$, '55000', NULL,
                 'nothing left to roll back');

SELECT is((SELECT string_agg(coalesce(old_version, 'default') || ' -> ' || coalesce(new_version, 'default')
                             || ' ' || action, ', ' ORDER BY id)
             FROM version_history WHERE kind = 'prompt_version' AND subject = 'gpt-test'),
          'default -> gpt-test/v1 activated, gpt-test/v1 -> gpt-test/v2 activated, '
          'gpt-test/v2 -> gpt-test/v3 activated, gpt-test/v3 -> gpt-test/v2 rolled_back, '
          'gpt-test/v2 -> gpt-test/v1 rolled_back, gpt-test/v1 -> default rolled_back',
          'every change of the active version is a history row');

-- decided_by / changed_by is the calling role, not the function owner.
CREATE ROLE ap_test_admin;
GRANT USAGE ON SCHEMA public TO ap_test_admin;
GRANT EXECUTE ON FUNCTION activate_prompt_version(text), set_enhancement(text, text, integer),
      approve_enhancement(bigint), rollback_enhancement(text) TO ap_test_admin;
SET ROLE ap_test_admin;
SELECT activate_prompt_version('gpt-test/v2');
SELECT set_enhancement('TS2345', 'Check every argument against the parameter type.', 7);
RESET ROLE;
SELECT is((SELECT changed_by FROM version_history ORDER BY id DESC LIMIT 1 OFFSET 1), 'ap_test_admin',
          'version_history records the calling role');
SELECT is((SELECT decided_by || ' ' || created_by FROM enhancement_versions WHERE error_code = 'TS2345'),
          'ap_test_admin ap_test_admin', 'enhancement_versions records the calling role');

-- Registry errors
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', 'gpt-test/v1', 'again')$$, '23505', NULL,
                 'duplicate version name');
SELECT throws_ok($$SELECT register_prompt_version(NULL, 'x', 'p')$$, '22004', NULL, 'NULL proposer_name');
SELECT throws_ok($$SELECT register_prompt_version('', 'x', 'p')$$, '22023', NULL, 'empty proposer_name');
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', repeat('v', 201), 'p')$$, '22001', NULL,
                 'version too long');
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', 'x', NULL)$$, '22004', NULL, 'NULL base_prompt');
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', 'x', '')$$, '22023', NULL, 'empty base_prompt');
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', 'x', repeat('p', 262145))$$, '22001', NULL,
                 'oversized base_prompt');
SELECT throws_ok($$SELECT register_prompt_version('gpt-test', 'x', 'p', NULL, NULL)$$, '22004', NULL,
                 'NULL activate');
SELECT throws_ok($$SELECT activate_prompt_version('no-such-version')$$, '42704', NULL, 'unknown version');
SELECT throws_ok($$SELECT activate_prompt_version(NULL)$$, '22004', NULL, 'NULL version');
SELECT throws_ok($$SELECT rollback_prompt_version('nobody')$$, '42704', NULL,
                 'rollback for a proposer without versions');
SELECT throws_ok($$SELECT start_prompt_test('gpt-test/v3', 0)$$, '22003', NULL, 'sample_size 0');
SELECT throws_ok($$SELECT start_prompt_test('gpt-test/v3', -5)$$, '22003', NULL, 'negative sample_size');
SELECT throws_ok($$SELECT start_prompt_test('gpt-test/v3', NULL)$$, '22004', NULL, 'NULL sample_size');
SELECT throws_ok($$SELECT start_prompt_test('no-such-version')$$, '42704', NULL, 'test of an unknown version');
SELECT throws_ok($$SELECT start_prompt_test('gpt-test/v2')$$, '55000', NULL, 'test of the active version');
SELECT throws_ok($$SELECT * FROM get_active_prompt_version(NULL)$$, '22004', NULL,
                 'get_active_prompt_version: NULL proposer_name');
SELECT throws_ok($$SELECT * FROM get_active_prompt_version('gpt-test', '')$$, '22023', NULL,
                 'get_active_prompt_version: empty work_order_id');
SELECT is((SELECT count(*) FROM prompt_versions WHERE version = 'x'), 0::bigint, 'nothing was written on error');

-- ---------------------------------------------------------------------------
-- Enhancements
-- ---------------------------------------------------------------------------
SELECT is(set_enhancement('TS2345', 'Compare each argument with the declared parameter type.', 7), 2,
          'set_enhancement returns the new version number');
SELECT is((SELECT array_agg(status ORDER BY version) FROM enhancement_versions WHERE error_code = 'TS2345'),
          '{retired,active}', 'the previous live text is retired');
SELECT ok((SELECT version = 2 AND active AND source = 'manual' AND priority = 7
                  AND enhancement_text LIKE 'Compare each argument%'
             FROM prompt_enhancements WHERE error_code = 'TS2345'), 'prompt_enhancements holds the live text');
SELECT is((SELECT replaced_version FROM enhancement_versions WHERE error_code = 'TS2345' AND version = 2), 1,
          'the new version remembers the one it replaced');

SELECT is(rollback_enhancement('TS2345'), 1, 'rollback_enhancement returns the restored version');
SELECT is((SELECT array_agg(status ORDER BY version) FROM enhancement_versions WHERE error_code = 'TS2345'),
          '{active,rolled_back}', 'the rolled-back version is rolled_back, the previous one active');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS2345'), 1, 'version 1 is live again');
SELECT is(rollback_enhancement('TS2345'), 0, 'rolling back the first version leaves no enhancement (0)');
SELECT is((SELECT active FROM prompt_enhancements WHERE error_code = 'TS2345'), false,
          'prompt_enhancements marks the code inactive');
SELECT is((SELECT used FROM build_enhanced_prompt('gpt-test', '{TS2345}')), '{}',
          'and build_enhanced_prompt no longer uses it');
SELECT is((SELECT string_agg(coalesce(old_version, 'none') || ' -> ' || coalesce(new_version, 'none')
                             || ' ' || action, ', ' ORDER BY id)
             FROM version_history WHERE kind = 'enhancement' AND subject = 'TS2345'),
          'none -> 1 set, 1 -> 2 set, 2 -> 1 rolled_back, 1 -> none rolled_back',
          'every change of the live text is a history row');
SELECT is(set_enhancement('TS2345', 'A fresh start.'), 3, 'a later text gets the next number');

-- Approval and rejection of automatic texts.
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS1443', 1, 'Quote every module name.', 'auto', 'pending_approval'),
       ('TS1443', 2, 'Another module text.', 'auto', 'pending_approval');
SELECT id AS ts1443_v1 FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 1 \gset
SET ROLE ap_test_admin;
SELECT is(approve_enhancement(:ts1443_v1), 'testing', 'approve_enhancement returns testing');
RESET ROLE;
SELECT ok((SELECT approved_by = 'ap_test_admin' AND approved_at IS NOT NULL
             FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 1),
          'the approver is recorded');
SELECT ok((SELECT status = 'running' AND incumbent IS NULL AND candidate = '1' AND sample_size = 30 AND alpha = 0.05
             FROM ab_tests WHERE subject = 'TS1443'),
          'a test against no enhancement starts, with the settings in force copied');
SELECT throws_ok($$SELECT approve_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 1))$$,
                 '55000', NULL, 'approving twice is refused');
SELECT throws_ok($$SELECT set_enhancement('TS1443', 'manual text')$$, '55000', NULL,
                 'set_enhancement is refused while the code''s test runs');
SELECT throws_ok($$SELECT rollback_enhancement('TS1443')$$, '55000', NULL,
                 'rollback_enhancement is refused while the code''s test runs');
SELECT lives_ok($$SELECT reject_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 1), 'too vague')$$,
                'reject_enhancement of a text in testing');
SELECT is((SELECT status || ': ' || decision_reason FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 1),
          'rejected: rejected by postgres: too vague', 'it is rejected with the reason and the role');
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS1443'), 'aborted', 'its running test is aborted');
SELECT lives_ok($$SELECT reject_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 2), 'duplicate')$$,
                'reject_enhancement of a pending text');
SELECT throws_ok($$SELECT reject_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS1443' AND version = 2), 'again')$$,
                 '55000', NULL, 'rejecting a rejected text is refused');

-- Enhancement errors
SELECT throws_ok($$SELECT set_enhancement(NULL, 'x')$$, '22004', NULL, 'NULL error_code');
SELECT throws_ok($$SELECT set_enhancement('TS1@2', 'x')$$, '22023', NULL, 'error_code with @');
SELECT throws_ok($$SELECT set_enhancement('TS1', '')$$, '22023', NULL, 'empty enhancement_text');
SELECT throws_ok($$SELECT set_enhancement('TS1', 'x', 101)$$, '22003', NULL, 'priority out of range');
SELECT throws_ok($$SELECT set_enhancement('TS1', 'x', NULL)$$, '22004', NULL, 'NULL priority');
SELECT throws_ok($$SELECT approve_enhancement(NULL)$$, '22004', NULL, 'NULL enhancement_version_id');
SELECT throws_ok($$SELECT approve_enhancement(-1)$$, 'P0002', NULL, 'unknown enhancement version');
SELECT throws_ok($$SELECT reject_enhancement((SELECT min(id) FROM enhancement_versions), '')$$, '22023', NULL,
                 'empty reason');
SELECT throws_ok($$SELECT rollback_enhancement('TS9999')$$, '42704', NULL, 'rollback of an unknown code');
SELECT throws_ok($$SELECT * FROM build_enhanced_prompt('gpt-test', '{TS1,NULL}')$$, '22004', NULL,
                 'build_enhanced_prompt: NULL code');
SELECT throws_ok($$SELECT * FROM build_enhanced_prompt('gpt-test', ARRAY[repeat('x', 65)])$$, '22001', NULL,
                 'build_enhanced_prompt: code too long');
SELECT is((SELECT count(*) FROM enhancement_versions WHERE error_code = 'TS1'), 0::bigint,
          'nothing was written on error');

-- build_enhanced_prompt and get_active_prompt_version only read: they work
-- in a read-only transaction, as on a hot standby.
SET LOCAL transaction_read_only = on;
SELECT lives_ok($$SELECT * FROM build_enhanced_prompt('gpt-test', '{TS2345}', 'wo-ro')$$,
                'build_enhanced_prompt works in a read-only transaction');
SELECT lives_ok($$SELECT * FROM build_enhanced_prompt('gpt-test')$$,
                'also with the proposer''s frequent codes');
SELECT lives_ok($$SELECT * FROM get_active_prompt_version('gpt-test', 'wo-ro')$$,
                'get_active_prompt_version works in a read-only transaction');

SELECT * FROM finish();
ROLLBACK;
