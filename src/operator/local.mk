# src/operator/local.mk - the `run` command: configuration, the reconcile loop, acting on plans.
libcore_a_SOURCES += \
	src/operator/config.c src/operator/config.h \
	src/operator/obs_map.c src/operator/obs_map.h \
	src/operator/operator.c src/operator/operator.h \
	src/operator/cmd_run.c \
	src/operator/pools.c \
	src/operator/watches.c \
	src/operator/poller.c src/operator/azdo_ops.h \
	src/operator/reconcile.c \
	src/operator/status.c src/operator/status.h \
	src/operator/act.c \
	src/operator/servers.c src/operator/servers.h \
	src/operator/metrics_feed.c

check_PROGRAMS += tests/test_op_config
tests_test_op_config_SOURCES = tests/test_op_config.c
tests_test_op_config_CFLAGS = $(TEST_CFLAGS)
tests_test_op_config_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_obs_map
tests_test_obs_map_SOURCES = tests/test_obs_map.c
tests_test_obs_map_CFLAGS = $(TEST_CFLAGS)
tests_test_obs_map_LDADD = $(TEST_LDADD)

check_PROGRAMS += tests/test_status
tests_test_status_SOURCES = tests/test_status.c
tests_test_status_CFLAGS = $(TEST_CFLAGS)
tests_test_status_LDADD = $(TEST_LDADD)
