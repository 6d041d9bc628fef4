/*-------------------------------------------------------------------------
 *
 * prompts.h
 *	  Declarations shared by the prompt registry (prompts.c), the
 *	  enhancements (enhancements.c) and the A/B engine (ab_tests.c).
 *
 * Lock order, in every function that changes a live text or an active
 * version (so that none of them can deadlock with another or with the
 * hot path, which counts a work order by updating its test's row first):
 *
 *	1. the subject's open A/B test row in ab_tests (FOR UPDATE, or the
 *	   counting UPDATE of record_work_order);
 *	2. the subject's transaction-level advisory lock (subject_lock());
 *	3. rows of prompt_versions, enhancement_versions, prompt_enhancements.
 *
 * The subject is a proposer (prompt versions) or an error code
 * (enhancements).  The advisory lock also serializes the first version of
 * a subject, which has no row to lock yet.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AP_PROMPTS_H
#define AP_PROMPTS_H

#include "adaptive_prompts.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/tuplestore.h"

/* Label and text of the built-in prompt used when no version is active. */
#define AP_DEFAULT_PROMPT_VERSION "v1.0"
extern const char *const ap_default_prompt;

/* Limits on texts given by people. */
#define AP_MAX_PROMPT_BYTES (256 * 1024)
#define AP_MAX_ENHANCEMENT_BYTES (16 * 1024)
#define AP_MAX_REASON_BYTES 4096
#define AP_MAX_SAMPLE_SIZE 1000000

/* The two kinds of A/B test, as stored in ab_tests.kind. */
#define AB_KIND_PROMPT "prompt_version"
#define AB_KIND_ENHANCEMENT "enhancement"

/* An open (running or watching) A/B test, as much as callers need. */
typedef struct AbOpenTest
{
	bool		found;
	int64		id;
	bool		watching;		/* false: running */
	int64		candidate_version_id;	/* enhancement tests; 0 otherwise */
} AbOpenTest;

/* ab_tests.c */
extern void subject_lock(const char *kind, text *subject);
extern void subject_lock_for_change(const char *kind, text *subject,
									AbOpenTest *test);
extern bool ab_arm_is_candidate(int64 salt, text *work_order_id);
extern int64 ab_start_test(const char *kind, text *subject,
						   const char *candidate, const char *incumbent,
						   int64 candidate_version_id, int32 sample_size,
						   const int64 *fixed_salt);
extern void ab_end_watch_early(int64 test_id, bool rolled_back,
							   const char *reason);
extern void version_history_add(const char *kind, text *subject,
								const char *old_version,
								const char *new_version, const char *action,
								int64 test_id, const char *reason);

/* prompts.c */
extern char *prompt_version_make_active(text *proposer, const char *version,
										bool record_replaced,
										const char *action, int64 test_id,
										const char *reason);
extern void prompt_version_record_test(const char *version, int64 work_orders,
									   int64 successes, double improvement_sum);

/* enhancements.c */
extern int32 enhancement_make_live(text *error_code, int32 version,
								   const char *replaced_status,
								   bool record_replaced, const char *action,
								   int64 test_id, const char *reason);
extern void enhancement_set_status(int64 enhancement_version_id,
								   const char *status, const char *reason);
extern int64 enhancement_start_next_test(text *error_code);
extern int64 enhancement_start_next_test_salted(text *error_code,
												const int64 *fixed_salt);

/* Shared helpers (prompts.c). */
extern Tuplestorestate *prompts_begin_srf(FunctionCallInfo fcinfo,
										  TupleDesc *tupdesc);

#endif							/* AP_PROMPTS_H */
