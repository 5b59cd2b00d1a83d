# src/plan/local.mk - included by Makefile.am; lists this module's sources and tests.
libcore_a_SOURCES += \
	src/plan/plan.c src/plan/plan.h \
	src/plan/plan_names.c \
	src/plan/rules.c src/plan/rules.h \
	src/plan/snapshot.c src/plan/snapshot.h \
	src/plan/demand.c src/plan/demand.h \
	src/plan/replay.c src/plan/replay.h

check_PROGRAMS += tests/test_plan tests/test_replay
tests_test_plan_SOURCES = tests/test_plan.c tests/plan_fixture.c tests/plan_fixture.h
tests_test_plan_CFLAGS = $(TEST_CFLAGS)
tests_test_plan_LDADD = $(TEST_LDADD)
tests_test_replay_SOURCES = tests/test_replay.c tests/plan_fixture.c tests/plan_fixture.h
tests_test_replay_CFLAGS = $(TEST_CFLAGS)
tests_test_replay_LDADD = $(TEST_LDADD)
