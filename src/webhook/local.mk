# src/webhook/local.mk - admission webhooks, their certificates, health and metrics endpoints.
libcore_a_SOURCES += \
	src/webhook/certs.c src/webhook/certs.h \
	src/webhook/cert_store.c src/webhook/cert_store.h \
	src/webhook/admission.c src/webhook/admission.h \
	src/webhook/metrics.c src/webhook/metrics.h \
	src/webhook/server.c src/webhook/server.h

check_PROGRAMS += tests/test_webhook_certs tests/test_webhook_cert_store \
	tests/test_webhook_admission tests/test_webhook_metrics tests/test_webhook_server
tests_test_webhook_certs_SOURCES = tests/test_webhook_certs.c
tests_test_webhook_certs_CFLAGS = $(TEST_CFLAGS)
tests_test_webhook_certs_LDADD = $(TEST_LDADD)
tests_test_webhook_cert_store_SOURCES = tests/test_webhook_cert_store.c
tests_test_webhook_cert_store_CFLAGS = $(TEST_CFLAGS)
tests_test_webhook_cert_store_LDADD = $(TEST_LDADD)
tests_test_webhook_admission_SOURCES = tests/test_webhook_admission.c
tests_test_webhook_admission_CFLAGS = $(TEST_CFLAGS)
tests_test_webhook_admission_LDADD = $(TEST_LDADD)
tests_test_webhook_metrics_SOURCES = tests/test_webhook_metrics.c
tests_test_webhook_metrics_CFLAGS = $(TEST_CFLAGS)
tests_test_webhook_metrics_LDADD = $(TEST_LDADD)
tests_test_webhook_server_SOURCES = tests/test_webhook_server.c
tests_test_webhook_server_CFLAGS = $(TEST_CFLAGS)
tests_test_webhook_server_LDADD = $(TEST_LDADD) -lpthread
