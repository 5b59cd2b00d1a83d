# src/kube/local.mk - included by Makefile.am; lists this module's sources and tests.
# The event loop and the HTTP client (src/loop.*, src/http.*) live here too: the Kubernetes
# module owns them, and every other module (azdo, webhook) links them from libcore.
libcore_a_SOURCES += \
	src/loop.c src/loop.h \
	src/http.c src/http.h \
	src/kube/yaml.c src/kube/yaml.h \
	src/kube/config.c src/kube/kubeconfig.c src/kube/config.h \
	src/kube/token.c src/kube/token.h \
	src/kube/client.c src/kube/verbs.c src/kube/client.h src/kube/internal.h \
	src/kube/watch.c src/kube/watch.h \
	src/kube/lease.c src/kube/lease.h \
	src/kube/event.c src/kube/event.h

check_PROGRAMS += tests/test_loop tests/test_http tests/test_kube_config tests/test_kube_client \
	tests/test_kube_watch tests/test_kube_lease tests/test_kube_event
tests_test_loop_SOURCES = tests/test_loop.c
tests_test_loop_CFLAGS = $(TEST_CFLAGS)
tests_test_loop_LDADD = $(TEST_LDADD)
tests_test_http_SOURCES = tests/test_http.c tests/test_http_fake.c tests/test_http_fake.h
tests_test_http_CFLAGS = $(TEST_CFLAGS)
tests_test_http_LDADD = $(TEST_LDADD) -lpthread
tests_test_kube_config_SOURCES = tests/test_kube_config.c
tests_test_kube_config_CFLAGS = $(TEST_CFLAGS)
tests_test_kube_config_LDADD = $(TEST_LDADD)
tests_test_kube_client_SOURCES = tests/test_kube_client.c tests/test_http_fake.c \
	tests/test_http_fake.h
tests_test_kube_client_CFLAGS = $(TEST_CFLAGS)
tests_test_kube_client_LDADD = $(TEST_LDADD) -lpthread
tests_test_kube_watch_SOURCES = tests/test_kube_watch.c tests/test_http_fake.c \
	tests/test_http_fake.h
tests_test_kube_watch_CFLAGS = $(TEST_CFLAGS)
tests_test_kube_watch_LDADD = $(TEST_LDADD) -lpthread
tests_test_kube_lease_SOURCES = tests/test_kube_lease.c tests/test_http_fake.c \
	tests/test_http_fake.h
tests_test_kube_lease_CFLAGS = $(TEST_CFLAGS)
tests_test_kube_lease_LDADD = $(TEST_LDADD) -lpthread
tests_test_kube_event_SOURCES = tests/test_kube_event.c tests/test_http_fake.c \
	tests/test_http_fake.h
tests_test_kube_event_CFLAGS = $(TEST_CFLAGS)
tests_test_kube_event_LDADD = $(TEST_LDADD) -lpthread
