/* Server fan-out benchmark for `make bench`: the reference endpoint's own program, tests/server/bench_fanout.c
   (owned by the server area, which does not build it), compiled here unchanged so that run.sh can run it.
   Usage: bench_server_fanout [N=10000] [publishes=20] [count=1] [external_port external_control_port] */
#include "../server/bench_fanout.c"
