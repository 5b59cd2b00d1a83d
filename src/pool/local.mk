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

