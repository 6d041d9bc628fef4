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
#include "utils/guc.h"

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

static const struct config_enum_entry decision_rule_options[] = {
	{"threshold", DECISION_RULE_THRESHOLD, false},
	{"wilson", DECISION_RULE_WILSON, false},
	{"sprt", DECISION_RULE_SPRT, false},
	{NULL, 0, false}
};

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

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("adaptive_prompts");
#else
	EmitWarningsOnPlaceholders("adaptive_prompts");
#endif
}
