/*-------------------------------------------------------------------------
 *
 * ab_tests.c
 *	  A/B tests of prompt versions and enhancement versions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "adaptive_prompts.h"

/*
 * Count a work order in the running A/B tests it takes part in.
 * (Counting and decisions arrive with the A/B feature.)
 */
void
ab_count_work_order(const WorkOrderFacts *facts)
{
	(void) facts;
}
