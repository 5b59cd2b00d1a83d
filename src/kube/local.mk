# src/kube/local.mk - included by Makefile.am; lists this module's sources and tests.
# The event loop and the HTTP client (src/loop.*, src/http.*) live here too: the Kubernetes
# module owns them, and every other module (azdo, webhook) links them from libcore.
libcore_a_SOURCES += \
	src/loop.c src/loop.h \
	src/http.c src/http.h

check_PROGRAMS += tests/test_loop tests/test_http
tests_test_loop_SOURCES = tests/test_loop.c
tests_test_loop_CFLAGS = $(TEST_CFLAGS)
tests_test_loop_LDADD = $(TEST_LDADD)
tests_test_http_SOURCES = tests/test_http.c tests/test_http_fake.c tests/test_http_fake.h
tests_test_http_CFLAGS = $(TEST_CFLAGS)
tests_test_http_LDADD = $(TEST_LDADD) -lpthread
