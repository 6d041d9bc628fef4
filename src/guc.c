/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  _PG_init and the settings of the adaptive_prompts extension.
 *
 * Every setting that changes what the extension decides is PGC_SIGHUP:
 * it is set in postgresql.conf or by ALTER SYSTEM and a reload, never by an
 * application role's SET, because the SECURITY DEFINER functions read the
 * caller's session settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "ab_decision.h"
#include "adaptive_prompts.h"

PG_MODULE_MAGIC;

double		ap_success_sample_rate = 0.1;
double		ap_partial_sample_rate = 0.2;
int			ap_window_size = 50;
double		ap_default_threshold = 0.3;
bool		ap_auto_register_proposers = true;
int			ap_work_order_retention = 7 * 24 * 3600;
int			ap_log_retention = AP_DEFAULT_LOG_RETENTION_SECS;
int			ap_max_enhancements = 5;
double		ap_ab_alpha = 0.05;
int			ap_ab_sample_size = 30;
int			ap_decision_rule = DECISION_RULE_THRESHOLD;
double		ap_sprt_delta = 0.1;

char	   *ap_worker_database = NULL;
int			ap_naptime = AP_DEFAULT_NAPTIME;
char	   *ap_api_url = NULL;
char	   *ap_api_key_file = NULL;
char	   *ap_model = NULL;
int			ap_max_tokens = AP_DEFAULT_MAX_TOKENS;
int			ap_request_timeout = AP_DEFAULT_REQUEST_TIMEOUT;
int			ap_max_concurrent_requests = AP_DEFAULT_MAX_CONCURRENT_REQUESTS;
int			ap_max_attempts = AP_DEFAULT_MAX_ATTEMPTS;
int			ap_max_jobs_per_run = AP_DEFAULT_MAX_JOBS_PER_RUN;
int			ap_approvals_required = AP_DEFAULT_APPROVALS_REQUIRED;
int			ap_max_enhancement_words = AP_DEFAULT_MAX_ENHANCEMENT_WORDS;
int			ap_daily_token_budget = AP_DEFAULT_DAILY_TOKEN_BUDGET;
int			ap_failure_trigger = AP_DEFAULT_FAILURE_TRIGGER;
double		ap_rewrite_below = AP_DEFAULT_REWRITE_BELOW;

static const struct config_enum_entry decision_rule_options[] = {
	{"threshold", DECISION_RULE_THRESHOLD, false},
	{"wilson", DECISION_RULE_WILSON, false},
	{"sprt", DECISION_RULE_SPRT, false},
	{NULL, 0, false}
};

/* Same order as AbRule in ab_decision.h. */
static const struct config_enum_entry ab_decision_rule_options[] = {
	{"fixed_alpha", AB_RULE_FIXED_ALPHA, false},
	{"lan_demets_obf", AB_RULE_LAN_DEMETS_OBF, false},
	{"lan_demets_pocock", AB_RULE_LAN_DEMETS_POCOCK, false},
	{NULL, 0, false}
};

static const struct config_enum_entry watch_rule_options[] = {
	{"sequential", WATCH_RULE_SEQUENTIAL, false},
	{"end_of_watch", WATCH_RULE_END_OF_WATCH, false},
	{NULL, 0, false}
};

int			ap_ab_decision_rule = AB_RULE_LAN_DEMETS_OBF;
int			ap_watch_rule = WATCH_RULE_SEQUENTIAL;

void		_PG_init(void);

/*
 * Name of a decision rule as stored on experiment rows.
 */
const char *
decision_rule_name(int rule)
{
	const struct config_enum_entry *entry;

	for (entry = decision_rule_options; entry->name != NULL; entry++)
	{
		if (entry->val == rule)
			return entry->name;
	}
	return "threshold";
}

/*
 * adaptive_prompts.api_url must be an http:// or https:// URL.  (Whether a
 * plain http:// host is loopback is checked by the client before it
 * connects, where the name is resolved.)
 */
static bool
check_api_url(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL ||
		(pg_strncasecmp(*newval, "https://", 8) != 0 &&
		 pg_strncasecmp(*newval, "http://", 7) != 0))
	{
		GUC_check_errdetail("The URL must start with https:// (or http:// for a loopback address).");
		return false;
	}
	return true;
}

/*
 * adaptive_prompts.model must not be empty.
 */
static bool
check_model(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || **newval == '\0')
	{
		GUC_check_errdetail("A model id such as \"%s\" is required.", AP_DEFAULT_MODEL);
		return false;
	}
	return true;
}

/*
 * The settings of the learning loop (SPEC 4.5, 5).
 */
static void
define_worker_settings(void)
{
	DefineCustomIntVariable("adaptive_prompts.naptime",
							"Longest sleep of the background worker between two looks at the job queue.",
							"The worker also wakes when run_auto_improvement() commits and when a retry is due.",
							&ap_naptime,
							AP_DEFAULT_NAPTIME, 1, AP_MAX_NAPTIME,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("adaptive_prompts.api_url",
							   "URL of the Anthropic Messages API.",
							   "Plain http:// is accepted only for a loopback address (tests).",
							   &ap_api_url,
							   AP_DEFAULT_API_URL,
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_api_url, NULL, NULL);

	DefineCustomStringVariable("adaptive_prompts.api_key_file",
							   "File holding the Anthropic API key, readable by the server only (mode 0600 or 0400).",
							   "Empty: the server's ANTHROPIC_API_KEY environment variable. Re-read on reload.",
							   &ap_api_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("adaptive_prompts.model",
							   "Claude model that writes and rewrites enhancements.",
							   NULL,
							   &ap_model,
							   AP_DEFAULT_MODEL,
							   PGC_SIGHUP, 0,
							   check_model, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_tokens",
							"Most output tokens one request may generate.",
							NULL,
							&ap_max_tokens,
							AP_DEFAULT_MAX_TOKENS, 1, AP_MAX_MAX_TOKENS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.request_timeout",
							"Longest time one request to the API may take.",
							"A request that takes longer is abandoned and retried.",
							&ap_request_timeout,
							AP_DEFAULT_REQUEST_TIMEOUT, 1, AP_MAX_REQUEST_TIMEOUT,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_concurrent_requests",
							"Most requests the worker has in flight at once.",
							NULL,
							&ap_max_concurrent_requests,
							AP_DEFAULT_MAX_CONCURRENT_REQUESTS, 1, AP_MAX_CONCURRENT_REQUESTS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_attempts",
							"Most requests made for one job before it fails.",
							"An attempt is counted when the worker claims the job.",
							&ap_max_attempts,
							AP_DEFAULT_MAX_ATTEMPTS, 1, AP_MAX_MAX_ATTEMPTS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_jobs_per_run",
							"Most jobs one run_auto_improvement() call enqueues.",
							NULL,
							&ap_max_jobs_per_run,
							AP_DEFAULT_MAX_JOBS_PER_RUN, 1, AP_MAX_MAX_JOBS_PER_RUN,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.approvals_required",
							"Automatic texts a person must approve before new ones go straight to testing.",
							"Until then every automatic text waits in pending_approval for approve_enhancement().",
							&ap_approvals_required,
							AP_DEFAULT_APPROVALS_REQUIRED, 0, AP_MAX_APPROVALS_REQUIRED,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_enhancement_words",
							"Longest automatic enhancement text accepted, in words.",
							"The meta-prompts ask for at most this many words; a longer answer creates no version.",
							&ap_max_enhancement_words,
							AP_DEFAULT_MAX_ENHANCEMENT_WORDS, 1, AP_MAX_MAX_ENHANCEMENT_WORDS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.daily_token_budget",
							"Most API tokens (input, output and cache) used per UTC day; 0 means no limit.",
							"Past it, queued jobs wait for the next UTC day.",
							&ap_daily_token_budget,
							AP_DEFAULT_DAILY_TOKEN_BUDGET, 0, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.failure_trigger",
							"Failures logged since the last run after which the worker starts a run itself; 0 turns this off.",
							NULL,
							&ap_failure_trigger,
							AP_DEFAULT_FAILURE_TRIGGER, 0, INT_MAX,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("adaptive_prompts.rewrite_below",
							 "Error reduction below which the worker starts a run itself (checked at most hourly).",
							 "Only enhancements used often enough to be rewritten count.",
							 &ap_rewrite_below,
							 AP_DEFAULT_REWRITE_BELOW, -1.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
}

/*
 * Module load: define the settings.
 */
void
_PG_init(void)
{
	DefineCustomRealVariable("adaptive_prompts.success_sample_rate",
							 "Share of successful work orders written to proposer_failures.",
							 "Failures are always logged. A logged success stands for 1/rate work orders.",
							 &ap_success_sample_rate,
							 0.1, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("adaptive_prompts.partial_sample_rate",
							 "Share of partial successes written to proposer_failures.",
							 "A partial success ends with errors but fixed more than half of them.",
							 &ap_partial_sample_rate,
							 0.2, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.window_size",
							"Number of recent attempts kept per proposer and complexity band.",
							"Success metrics are the aggregate of exactly these attempts.",
							&ap_window_size,
							50, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("adaptive_prompts.default_threshold",
							 "Complexity threshold given to auto-registered proposers.",
							 NULL,
							 &ap_default_threshold,
							 0.3, 0.0, 1.0,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("adaptive_prompts.auto_register_proposers",
							 "Register unknown proposers (inactive) instead of raising an error.",
							 NULL,
							 &ap_auto_register_proposers,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.work_order_retention",
							"How long a work_order_id is remembered for idempotency.",
							"Ledger rows older than this are purged in batches.",
							&ap_work_order_retention,
							7 * 24 * 3600, 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.log_retention",
							"How long logged work orders are kept in proposer_failures; 0 keeps them forever.",
							"Older rows are purged in batches by the worker or purge_log(), never before they are folded into the rollups or while an open test or experiment started before them.",
							&ap_log_retention,
							AP_DEFAULT_LOG_RETENTION_SECS, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.max_enhancements",
							"Most enhancements appended to one prompt.",
							NULL,
							&ap_max_enhancements,
							5, 0, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("adaptive_prompts.ab_alpha",
							 "Significance level of the one-sided test that promotes an A/B candidate.",
							 NULL,
							 &ap_ab_alpha,
							 0.05, 0.0001, 0.5,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("adaptive_prompts.ab_decision_rule",
							 "Rule that promotes an A/B candidate: lan_demets_obf, lan_demets_pocock or fixed_alpha.",
							 "The group-sequential rules spend ab_alpha over the four checkpoints; fixed_alpha tests at ab_alpha at each. Copied onto each test when it starts.",
							 &ap_ab_decision_rule,
							 AB_RULE_LAN_DEMETS_OBF,
							 ab_decision_rule_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("adaptive_prompts.watch_rule",
							 "Rule of the watch after a promotion: sequential or end_of_watch.",
							 "sequential rolls back on evidence that the promoted side is worse, checked during the watch; end_of_watch compares once at the end. Copied onto each experiment and test when it starts.",
							 &ap_watch_rule,
							 WATCH_RULE_SEQUENTIAL,
							 watch_rule_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("adaptive_prompts.ab_sample_size",
							"Work orders per arm before an enhancement's A/B test is decided.",
							"Copied onto each test when approve_enhancement() starts it; start_prompt_test() takes its own.",
							&ap_ab_sample_size,
							30, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("adaptive_prompts.decision_rule",
							 "Rule that decides threshold experiments: threshold, wilson or sprt.",
							 "Copied onto each experiment when it starts.",
							 &ap_decision_rule,
							 DECISION_RULE_THRESHOLD,
							 decision_rule_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("adaptive_prompts.sprt_delta",
							 "Half-width of the indifference region of the sequential test.",
							 "The SPRT tests confidence - delta against confidence + delta.",
							 &ap_sprt_delta,
							 0.1, 0.001, 0.5,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	define_worker_settings();

	/*
	 * The background worker, its database and its shared memory exist only
	 * when the library is preloaded (and never under pg_upgrade, which must
	 * not see writes to user tables).
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("adaptive_prompts.database",
								   "Database served by the adaptive_prompts background worker.",
								   "The extension must be installed there; other databases get no worker.",
								   &ap_worker_database,
								   AP_DEFAULT_WORKER_DATABASE,
								   PGC_POSTMASTER, 0,
								   NULL, NULL, NULL);
		if (!IsBinaryUpgrade)
		{
			worker_shmem_request();
			worker_register();
		}
	}

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("adaptive_prompts");
#else
	EmitWarningsOnPlaceholders("adaptive_prompts");
#endif
}
