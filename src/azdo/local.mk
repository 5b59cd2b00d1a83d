# src/azdo/local.mk - included by Makefile.am; lists this module's sources and tests.
libcore_a_SOURCES += \
	src/azdo/url.c src/azdo/url.h \
	src/azdo/isotime.c src/azdo/isotime.h \
	src/azdo/demand.c src/azdo/demand.h \
	src/azdo/parse.c src/azdo/parse.h \
	src/azdo/classify.c src/azdo/classify.h \
	src/azdo/backoff.c src/azdo/backoff.h \
	src/azdo/body.c src/azdo/body.h \
	src/azdo/client.c src/azdo/client.h

check_PROGRAMS += tests/test_azdo_url tests/test_azdo_parse tests/test_azdo_classify \
	tests/test_azdo_demand tests/test_azdo_backoff tests/test_azdo_client
tests_test_azdo_url_SOURCES = tests/test_azdo_url.c
tests_test_azdo_url_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_url_LDADD = $(TEST_LDADD)
tests_test_azdo_parse_SOURCES = tests/test_azdo_parse.c tests/test_azdo_fixture.c
tests_test_azdo_parse_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_parse_LDADD = $(TEST_LDADD)
tests_test_azdo_classify_SOURCES = tests/test_azdo_classify.c tests/test_azdo_fixture.c
tests_test_azdo_classify_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_classify_LDADD = $(TEST_LDADD)
tests_test_azdo_demand_SOURCES = tests/test_azdo_demand.c
tests_test_azdo_demand_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_demand_LDADD = $(TEST_LDADD)
tests_test_azdo_backoff_SOURCES = tests/test_azdo_backoff.c
tests_test_azdo_backoff_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_backoff_LDADD = $(TEST_LDADD)
tests_test_azdo_client_SOURCES = tests/test_azdo_client.c tests/test_http_fake.c \
	tests/test_http_fake.h
tests_test_azdo_client_CFLAGS = $(TEST_CFLAGS)
tests_test_azdo_client_LDADD = $(TEST_LDADD) -lpthread
