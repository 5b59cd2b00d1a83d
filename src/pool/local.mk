# src/pool/local.mk - included by Makefile.am; lists this module's sources and tests.
# The RunnerPool API: parsing, defaults, validation, quantities, and the pure builders of agent
# pods and PVCs.
libcore_a_SOURCES += \
	src/pool/field_errors.c src/pool/field_errors.h \
	src/pool/k8s_names.c src/pool/k8s_names.h \
	src/pool/quantity.c src/pool/quantity.h \
	src/pool/runnerpool.c src/pool/runnerpool.h \
	src/pool/runnerpool_validate.c src/pool/runnerpool_validate.h \
	src/pool/runnerpool_defaults.c src/pool/runnerpool_defaults.h \
	src/pool/agent_meta.c src/pool/agent_meta.h \
	src/pool/agent_pod.c src/pool/agent_pod.h \
	src/pool/agent_pvc.c src/pool/agent_pvc.h

check_PROGRAMS += tests/test_quantity tests/test_runnerpool tests/test_agent_pod
tests_test_quantity_SOURCES = tests/test_quantity.c
tests_test_quantity_CFLAGS = $(TEST_CFLAGS)
tests_test_quantity_LDADD = $(TEST_LDADD)
tests_test_runnerpool_SOURCES = tests/test_runnerpool.c \
	tests/test_runnerpool_util.c tests/test_runnerpool_util.h
tests_test_runnerpool_CFLAGS = $(TEST_CFLAGS)
tests_test_runnerpool_LDADD = $(TEST_LDADD)
tests_test_agent_pod_SOURCES = tests/test_agent_pod.c \
	tests/test_runnerpool_util.c tests/test_runnerpool_util.h
tests_test_agent_pod_CFLAGS = $(TEST_CFLAGS)
tests_test_agent_pod_LDADD = $(TEST_LDADD)
