# Helpers the record_work_order benches share (sourced after test/lib.sh).
#
#   ... | tps_of     pgbench's "tps = N" line -> N
#   ... | median     the median of one number per line

tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
