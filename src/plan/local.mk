# src/plan/local.mk - included by Makefile.am; lists this module's sources and tests.
libcore_a_SOURCES += \
	src/plan/plan_names.c src/plan/plan.h \
	src/plan/demand.c src/plan/demand.h
