/*-------------------------------------------------------------------------
 *
 * experiments.c
 *	  Threshold experiments and routing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "adaptive_prompts.h"

/*
 * Count a work order in its proposer's running experiment, if any.
 * (Counting and decisions arrive with the threshold-experiment feature.)
 */
void
experiment_count_work_order(const WorkOrderFacts *facts, ExperimentCount *count)
{
	(void) facts;
	count->found = false;
}
