/*-------------------------------------------------------------------------
 *
 * proposers.c
 *	  Registering proposers and the administrator's direct levers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "adaptive_prompts.h"

PG_FUNCTION_INFO_V1(ap_register_proposer);
PG_FUNCTION_INFO_V1(ap_set_proposer_active);
PG_FUNCTION_INFO_V1(ap_set_threshold);
PG_FUNCTION_INFO_V1(ap_proposer_removed);

static ApPlan exists_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.proposers WHERE name = $1",
	TEXTOID);

static ApPlan auto_register_plan = AP_PLAN(
	"INSERT INTO @extschema@.proposers"
	" (name, complexity_threshold, active, auto_registered)"
	" VALUES ($1, $2, false, true) ON CONFLICT (name) DO NOTHING",
	TEXTOID, FLOAT8OID);

static ApPlan register_plan = AP_PLAN(
	"INSERT INTO @extschema@.proposers"
	" (name, complexity_threshold, cost_rank, active, auto_registered)"
	" VALUES ($1, $2, $3, true, false)"
	" ON CONFLICT (name) DO UPDATE SET complexity_threshold = excluded.complexity_threshold,"
	" cost_rank = excluded.cost_rank, active = true, auto_registered = false,"
	" updated_at = pg_catalog.now()",
	TEXTOID, FLOAT8OID, INT4OID);

static ApPlan set_active_plan = AP_PLAN(
	"UPDATE @extschema@.proposers SET active = $2, updated_at = pg_catalog.now()"
	" WHERE name = $1",
	TEXTOID, BOOLOID);

static ApPlan lock_proposer_plan = AP_PLAN(
	"SELECT complexity_threshold FROM @extschema@.proposers WHERE name = $1 FOR UPDATE",
	TEXTOID);

static ApPlan open_experiment_plan = AP_PLAN(
	"SELECT id FROM @extschema@.threshold_experiments"
	" WHERE proposer_name = $1 AND (status = 'running' OR watching)",
	TEXTOID);

static ApPlan set_threshold_plan = AP_PLAN(
	"UPDATE @extschema@.proposers SET complexity_threshold = $2, updated_at = pg_catalog.now()"
	" WHERE name = $1",
	TEXTOID, FLOAT8OID);

static ApPlan record_manual_plan = AP_PLAN(
	"INSERT INTO @extschema@.threshold_experiments"
	" (proposer_name, old_threshold, new_threshold, test_sample_size, decision_rule,"
	"  status, decided_at, decided_by, decision_reason)"
	" VALUES ($1, $2, $3, 1, 'manual', 'manual', pg_catalog.now(), $4,"
	"  'threshold set directly with set_threshold()')",
	TEXTOID, FLOAT8OID, FLOAT8OID, TEXTOID);

static ApPlan remove_metrics_plan = AP_PLAN(
	"DELETE FROM @extschema@.proposer_success_metrics WHERE proposer_name = $1",
	TEXTOID);

static ApPlan remove_attempts_plan = AP_PLAN(
	"DELETE FROM @extschema@.proposer_attempts WHERE proposer_name = $1",
	TEXTOID);

static ApPlan remove_all_metrics_plan = AP_PLAN_NO_ARGS(
	"DELETE FROM @extschema@.proposer_success_metrics");

static ApPlan remove_all_attempts_plan = AP_PLAN_NO_ARGS(
	"DELETE FROM @extschema@.proposer_attempts");

/*
 * Raise 42704 for a proposer that has no row.
 */
void
proposer_raise_unknown(text *proposer)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("proposer \"%s\" does not exist", text_to_cstring(proposer)),
			 errhint("Register it with register_proposer(name, complexity_threshold, cost_rank).")));
}

/*
 * A threshold may not be changed by hand while an experiment of the
 * proposer is running or its promotion is watched.
 */
static void
refuse_during_experiment(text *proposer)
{
	Datum		values[1];

	values[0] = PointerGetDatum(proposer);
	ap_execute(&open_experiment_plan, values, NULL, false, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("proposer \"%s\" has a threshold experiment in progress",
						text_to_cstring(proposer)),
				 errhint("Abort it with abort_experiment() first.")));
}

/*
 * Make sure a proposer has a row.  An unknown one is registered inactive
 * with the default threshold (a typo is recorded, never routed to), or is
 * an error when auto-registration is off.  Returns true when it was
 * registered now.
 */
bool
proposer_ensure_registered(text *proposer)
{
	Datum		values[2];

	values[0] = PointerGetDatum(proposer);
	ap_execute(&exists_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
		return false;

	if (!ap_auto_register_proposers)
		proposer_raise_unknown(proposer);

	values[1] = Float8GetDatum(ap_default_threshold);
	ap_execute(&auto_register_plan, values, NULL, false, 0);
	if (SPI_processed == 1)
		ereport(NOTICE,
				(errmsg("registered unknown proposer \"%s\" as inactive",
						text_to_cstring(proposer)),
				 errdetail("Its complexity threshold is %g; nothing is routed to it until it is registered.",
						   ap_default_threshold),
				 errhint("Call register_proposer() to activate it.")));
	return SPI_processed == 1;
}

/*
 * register_proposer(name, complexity_threshold, cost_rank) returns void:
 * register or update a proposer and make it active.
 */
Datum
ap_register_proposer(PG_FUNCTION_ARGS)
{
	Datum		values[3];

	AP_ENTER();
	values[0] = PointerGetDatum(ap_require_name(fcinfo, 0, "name"));
	values[1] = Float8GetDatum(ap_require_fraction(fcinfo, 1, "complexity_threshold"));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cost_rank must not be NULL")));
	values[2] = PG_GETARG_DATUM(2);
	if (DatumGetInt32(values[2]) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("cost_rank must not be negative"),
				 errdetail("The value given was %d.", DatumGetInt32(values[2]))));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Changing the threshold of a known proposer is set_threshold's job. */
	ap_execute(&lock_proposer_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		double		current = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));

		if (current != DatumGetFloat8(values[1]))
			refuse_during_experiment((text *) DatumGetPointer(values[0]));
	}
	ap_execute(&register_plan, values, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * set_proposer_active(name, active) returns void
 */
Datum
ap_set_proposer_active(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	text	   *proposer;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "name");
	values[0] = PointerGetDatum(proposer);
	values[1] = BoolGetDatum(ap_require_bool(fcinfo, 1, "active"));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ap_execute(&set_active_plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		proposer_raise_unknown(proposer);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * set_threshold(name, complexity_threshold) returns void: the
 * administrator's direct lever, recorded in threshold_experiments with
 * status 'manual'.  Refused while an experiment for the proposer is
 * running or watched.
 */
Datum
ap_set_threshold(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	double		threshold;
	double		old_threshold;
	bool		isnull;
	Datum		values[4];

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "name");
	threshold = ap_require_fraction(fcinfo, 1, "complexity_threshold");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	values[0] = PointerGetDatum(proposer);
	ap_execute(&lock_proposer_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		proposer_raise_unknown(proposer);
	old_threshold = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull));

	refuse_during_experiment(proposer);

	values[1] = Float8GetDatum(threshold);
	ap_execute(&set_threshold_plan, values, NULL, false, 0);

	values[1] = Float8GetDatum(old_threshold);
	values[2] = Float8GetDatum(threshold);
	values[3] = CStringGetTextDatum(ap_calling_role());
	ap_execute(&record_manual_plan, values, NULL, false, 0);

	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Trigger on proposers: a proposer that is deleted or renamed (or all of
 * them, on TRUNCATE) loses its windows.  record_work_order checks that a
 * proposer exists only when its window is created, so without this a
 * deleted proposer would still be accepted for the bands it had windows
 * in.  The metrics rows go first: deleting one waits for a caller that
 * holds its lock, and the attempts are then deleted with a snapshot that
 * sees what that caller wrote.  The log (proposer_failures) is kept.
 */
Datum
ap_proposer_removed(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ap_proposer_removed() must be called as a trigger")));
	AP_ENTER();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event))
	{
		ap_execute(&remove_all_metrics_plan, NULL, NULL, false, 0);
		ap_execute(&remove_all_attempts_plan, NULL, NULL, false, 0);
	}
	else if (TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
	{
		bool		isnull;
		Datum		name = heap_getattr(trigger->tg_trigtuple,
										attnameAttNum(trigger->tg_relation, "name", false),
										RelationGetDescr(trigger->tg_relation), &isnull);

		if (!isnull)
		{
			ap_execute(&remove_metrics_plan, &name, NULL, false, 0);
			ap_execute(&remove_attempts_plan, &name, NULL, false, 0);
		}
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
