/*-------------------------------------------------------------------------
 *
 * adaptive_prompts.h
 *	  Declarations shared by the C files of the adaptive_prompts extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ADAPTIVE_PROMPTS_H
#define ADAPTIVE_PROMPTS_H

#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/uuid.h"

/* Settings (guc.c).  All are reload-level: no application session sets them. */
extern double ap_success_sample_rate;
extern double ap_partial_sample_rate;
extern int	ap_window_size;
extern double ap_default_threshold;
extern bool ap_auto_register_proposers;
extern int	ap_work_order_retention;	/* seconds */
extern int	ap_log_retention;	/* seconds; 0 keeps the log forever */
extern int	ap_max_enhancements;
extern double ap_ab_alpha;
extern int	ap_ab_sample_size;
extern int	ap_decision_rule;
extern double ap_sprt_delta;

/*
 * Settings of the learning loop (guc.c): the background worker, the
 * Anthropic client and the auto-improvement rules.  adaptive_prompts.database
 * is postmaster-level and defined only while shared_preload_libraries is
 * processed; the others are reload-level.
 */
extern char *ap_worker_database;
extern int	ap_naptime;				/* seconds */
extern char *ap_api_url;
extern char *ap_api_key_file;
extern char *ap_model;
extern int	ap_max_tokens;
extern int	ap_request_timeout;		/* seconds */
extern int	ap_max_concurrent_requests;
extern int	ap_max_attempts;
extern int	ap_max_jobs_per_run;
extern int	ap_approvals_required;
extern int	ap_max_enhancement_words;
extern int	ap_daily_token_budget;	/* tokens per UTC day, 0 = unlimited */
extern int	ap_failure_trigger;		/* 0 = off */
extern double ap_rewrite_below;

/* Defaults and limits of those settings, used by the GUCs and the checks. */
#define AP_DEFAULT_WORKER_DATABASE "postgres"
#define AP_DEFAULT_NAPTIME 10
#define AP_MAX_NAPTIME 3600
#define AP_DEFAULT_API_URL "https://api.anthropic.com/v1/messages"
#define AP_DEFAULT_MODEL "claude-sonnet-4-5"
#define AP_DEFAULT_MAX_TOKENS 1000
#define AP_MAX_MAX_TOKENS 64000
#define AP_DEFAULT_REQUEST_TIMEOUT 120
#define AP_MAX_REQUEST_TIMEOUT 3600
#define AP_DEFAULT_MAX_CONCURRENT_REQUESTS 4
#define AP_MAX_CONCURRENT_REQUESTS 64
#define AP_DEFAULT_MAX_ATTEMPTS 5
#define AP_MAX_MAX_ATTEMPTS 100
#define AP_DEFAULT_MAX_JOBS_PER_RUN 20
#define AP_MAX_MAX_JOBS_PER_RUN 10000
#define AP_DEFAULT_APPROVALS_REQUIRED 5
#define AP_MAX_APPROVALS_REQUIRED 100000
#define AP_DEFAULT_MAX_ENHANCEMENT_WORDS 200
#define AP_MAX_MAX_ENHANCEMENT_WORDS 2000
#define AP_DEFAULT_DAILY_TOKEN_BUDGET 0
#define AP_DEFAULT_FAILURE_TRIGGER 50
#define AP_DEFAULT_REWRITE_BELOW 0.3

/*
 * Fixed rules of run_auto_improvement (SPEC 4.5): improve live
 * enhancements whose reduction is below AP_IMPROVE_BELOW and that were used
 * at least AP_IMPROVE_MIN_USES times; create enhancements for codes logged
 * at least AP_CREATE_MIN_OCCURRENCES times; both over AP_ANALYSIS_WINDOW.
 */
#define AP_IMPROVE_BELOW 0.5
#define AP_IMPROVE_MIN_USES 10
#define AP_CREATE_MIN_OCCURRENCES 5
#define AP_ANALYSIS_WINDOW "30 days"

/* Name the worker writes in decided_by, created_by and started_by. */
#define AP_WORKER_ACTOR "adaptive_prompts worker"

/* Background worker (worker.c). */
extern void worker_register(void);
extern void worker_shmem_request(void);
extern void worker_shmem_startup(void);
extern void worker_wake(void);
extern bool worker_status_snapshot(int *pid, char *state, int state_len,
								   char *last_error, int error_len,
								   int64 *last_error_at);
extern void ap_set_actor(const char *actor);
extern void ap_use_extension_schema(Oid schema);

/* Default of adaptive_prompts.log_retention: longer than any analysis window in use. */
#define AP_DEFAULT_LOG_RETENTION_SECS (90 * 24 * 3600)

/* Values of adaptive_prompts.decision_rule. */
typedef enum DecisionRule
{
	DECISION_RULE_THRESHOLD,
	DECISION_RULE_WILSON,
	DECISION_RULE_SPRT
} DecisionRule;

extern const char *decision_rule_name(int rule);

/* adaptive_prompts.ab_decision_rule takes AbRule values (ab_decision.h). */
extern int	ap_ab_decision_rule;

/* Values of adaptive_prompts.watch_rule. */
typedef enum WatchRule
{
	WATCH_RULE_SEQUENTIAL,		/* threshold: sprt; A/B: lan_demets_pocock */
	WATCH_RULE_END_OF_WATCH		/* threshold: below_bar; A/B: fixed_alpha */
} WatchRule;

extern int	ap_watch_rule;

/*
 * The sequential watch of a threshold promotion (SPEC 4.3): Wald's test of
 * the bar + WATCH_MARGIN_ABOVE (keep) against the bar - WATCH_MARGIN_BELOW
 * (roll back), with these error rates; rates are clipped into
 * [WATCH_RATE_MIN, WATCH_RATE_MAX].
 */
#define WATCH_MARGIN_ABOVE 0.05
#define WATCH_MARGIN_BELOW 0.15
#define WATCH_ALPHA 0.05
#define WATCH_BETA 0.2
#define WATCH_RATE_MIN 0.001
#define WATCH_RATE_MAX 0.999

/* Number of complexity bands and the length of a band label. */
#define AP_BAND_COUNT 10
#define AP_BAND_LABEL_LEN 8		/* "0.3-0.4" */

extern int	complexity_band_index(double score);
extern const char *complexity_band_label(int band);

/*
 * Limits on caller-supplied input.  A longer string raises 22001, a larger
 * array or sample set 54000, instead of filling the log with one caller's
 * garbage.
 */
#define AP_MAX_NAME_BYTES 200
#define AP_MAX_CODE_BYTES 64
#define AP_MAX_CODES 1000
#define AP_MAX_SAMPLES 100
#define AP_MAX_SAMPLES_BYTES (256 * 1024)

/* The longest analysis window (since) a function accepts. */
#define AP_MAX_ANALYSIS_WINDOW_YEARS 100

/*
 * Kept SPI plans.  ap_plan() prepares a statement on first use in a backend
 * and keeps it for the life of the backend.  The extension's schema is
 * substituted for every "@extschema@" in the text, so that every reference
 * is qualified whatever the caller's search_path.
 */
typedef struct ApPlan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[24];
	bool		custom_plan;	/* replan for each execution's parameters */
	SPIPlanPtr	plan;
	uint32		schema_generation;	/* schema (OID and name) it was prepared for */
} ApPlan;

/* A statement and its parameter types: AP_PLAN("... $1 ...", TEXTOID). */
#define AP_PLAN(query, ...) \
	{ .sql = (query), .nargs = lengthof(((Oid[]) {__VA_ARGS__})), \
	  .argtypes = {__VA_ARGS__} }

/* A statement without parameters. */
#define AP_PLAN_NO_ARGS(query) { .sql = (query), .nargs = 0 }

/*
 * The same, for a statement whose best plan depends on the parameter values
 * (a range predicate over a BRIN index): planned for each execution.
 */
#define AP_PLAN_CUSTOM(query, ...) \
	{ .sql = (query), .nargs = lengthof(((Oid[]) {__VA_ARGS__})), \
	  .argtypes = {__VA_ARGS__}, .custom_plan = true }

extern SPIPlanPtr ap_plan(ApPlan *plan);
extern int	ap_execute(ApPlan *plan, Datum *values, const char *nulls,
					   bool read_only, long count);
extern void ap_enter_function(Oid fn_oid);
extern Oid	ap_extension_schema(void);
extern const char *ap_extension_schema_name(void);
extern uint32 ap_schema_generation(void);
extern void ap_require_writable(const char *function_name);

/*
 * Counters that many backends add to (A/B tests, threshold experiments)
 * are striped: AP_COUNTER_STRIPES rows per counter, each backend adds to
 * the row of ap_counter_stripe() (0 .. AP_COUNTER_STRIPES - 1, from its
 * backend slot), so concurrent callers do not wait on one row (SPEC 8).
 */
#define AP_COUNTER_STRIPES 16
extern int	ap_counter_stripe(void);

/* Every SQL-callable function starts with this. */
#define AP_ENTER() ap_enter_function(fcinfo->flinfo->fn_oid)

/* Validation helpers shared by the SQL-callable functions (common.c). */
extern text *ap_require_text(FunctionCallInfo fcinfo, int argno,
							 const char *argname, int max_bytes);
extern text *ap_require_name(FunctionCallInfo fcinfo, int argno,
							 const char *argname);
extern void ap_check_name(const char *name, int len, const char *argname);
extern text *ap_optional_name(FunctionCallInfo fcinfo, int argno,
							  const char *argname);
extern int	ap_check_text_array(ArrayType *array, const char *argname,
								int max_element_bytes);
extern double ap_require_fraction(FunctionCallInfo fcinfo, int argno,
								  const char *argname);
extern void ap_check_fraction(double value, const char *argname);
extern int32 ap_require_count(FunctionCallInfo fcinfo, int argno,
							  const char *argname);
extern int32 ap_require_batch_size(FunctionCallInfo fcinfo, int argno,
									const char *argname);
extern Oid	ap_find_extension(Oid *schema, char **version);
extern void ap_require_extension_version(void);
extern bool ap_require_bool(FunctionCallInfo fcinfo, int argno,
							const char *argname);

/* Role that called the API, for decided_by columns. */
extern char *ap_calling_role(void);

/* Sampling and A/B assignment: uniform [0,1) from hash(salt, key). */
extern double ap_hash_unit(uint64 salt, const char *key, int keylen);

#define AP_SAMPLING_SALT UINT64CONST(0x5a3c1e7f00c0ffee)

/* Window maintenance (window.c). */
typedef struct WindowState
{
	int			attempts;
	double		success_rate;
	bool		auto_registered;	/* the call registered an unknown proposer */
} WindowState;

extern void window_record_attempt(text *proposer, const char *band,
								  bool was_success, double improvement_rate,
								  WindowState *state);
extern bool window_current(text *proposer, const char *band,
						   WindowState *state);

/* One element of enhancements_used: CODE@N, or a bare code (version -1). */
typedef struct UsedEnhancement
{
	char	   *code;
	int32		version;
} UsedEnhancement;

/*
 * What record_work_order knows about one work order, handed to the
 * experiment and A/B hooks.
 */
typedef struct WorkOrderFacts
{
	text	   *proposer;
	double		score;
	const char *band;
	bool		was_success;
	double		improvement_rate;
	text	   *work_order_id;		/* NULL when the caller gave none */
	text	   *prompt_version;		/* NULL when the caller gave none */
	UsedEnhancement *enhancements_used;
	int			enhancements_used_count;
	ArrayType  *error_codes;		/* after the sanitizer exclusion */
} WorkOrderFacts;

/* A running threshold experiment that counted the work order. */
typedef struct ExperimentCount
{
	bool		found;			/* the work order was counted in a trial or a watch */
	pg_uuid_t	id;
	char		status[32];
} ExperimentCount;

/* Prompt and enhancement versions reported by a work order (known_versions.c). */
extern void known_require_prompt_version(text *proposer, text *version);
extern void known_require_enhancement_versions(const UsedEnhancement *used,
											   int count);

/* Whether any experiment or A/B test is open, cached per backend (activity.c). */
extern bool activity_experiments_open(void);
extern bool activity_ab_tests_open(void);

/* Threshold experiments (experiments.c). */
extern void experiment_count_work_order(const WorkOrderFacts *facts,
										ExperimentCount *count);
extern int	experiments_settle_open(void);

/* A/B tests of prompt and enhancement versions (ab_tests.c). */
extern void ab_count_work_order(const WorkOrderFacts *facts);
extern int	ab_settle_open_tests(void);

/* The ledger purge, for the background worker (work_orders.c). */
extern uint64 work_orders_purge_ledger(int batch_size);

/* Proposers (proposers.c). */
extern bool proposer_ensure_registered(text *proposer);
extern void proposer_raise_unknown(text *proposer) pg_attribute_noreturn();

#endif							/* ADAPTIVE_PROMPTS_H */
