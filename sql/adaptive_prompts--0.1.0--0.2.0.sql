/* adaptive_prompts 0.1.0 -> 0.2.0: upgrade script */

\echo Use "ALTER EXTENSION adaptive_prompts UPDATE TO '0.2.0'" to load this file. \quit

/*
 * Every change here is also in adaptive_prompts--0.2.0.sql, in the same
 * order of columns: test/integration/upgrade.sh checks that an updated
 * install and a fresh one have the same objects, definitions, comments,
 * privileges and seeded rows.
 */
