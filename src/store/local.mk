# src/store/local.mk - included by Makefile.am; lists this module's sources and tests.
#
# Migrations are embedded in the binary: migrations_data.c is generated from the files listed in
# STORE_MIGRATIONS (automake has no wildcards: add each new migrations/NNNN_name.sql here).
STORE_MIGRATIONS = \
	migrations/0001_create_core.sql \
	migrations/0002_pod_deletion_deadline.sql \
	migrations/0003_azdo_reason.sql \
	migrations/0004_planner_indexes.sql

libcore_a_SOURCES += \
	src/store/store.c src/store/store.h \
	src/store/store_obs.c src/store/store_obs.h \
	src/store/store_audit.c src/store/store_audit.h \
	src/store/store_status.c src/store/store_status.h \
	src/store/store_retention.c src/store/store_retention.h \
	src/store/store_metrics.c src/store/store_metrics.h \
	src/cmd_sql.c src/cmd_replay.c src/cmd_migrate.c src/cmds.h
nodist_libcore_a_SOURCES = src/store/migrations_data.c
BUILT_SOURCES = src/store/migrations_data.c
CLEANFILES = src/store/migrations_data.c
EXTRA_DIST += migrations src/store/embed_migrations.sh

src/store/migrations_data.c: $(STORE_MIGRATIONS) $(srcdir)/src/store/embed_migrations.sh
	$(AM_V_GEN)mkdir -p src/store && \
	$(SHELL) $(srcdir)/src/store/embed_migrations.sh $(srcdir) $(STORE_MIGRATIONS) > $@.tmp && \
	mv $@.tmp $@

check_PROGRAMS += tests/test_store
tests_test_store_SOURCES = tests/test_store.c
tests_test_store_CFLAGS = $(TEST_CFLAGS)
tests_test_store_LDADD = $(TEST_LDADD)
