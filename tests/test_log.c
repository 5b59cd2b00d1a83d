/* test_log.c - log lines are single JSON objects with the fixed keys first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

static json_t *log_one_line(enum log_level level, const char *msg)
{
    int fds[2];
    char buf[1024];
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    log_event(level, "test", msg, "{s:s, s:i}", "name", "pool-a", "http_status", 409);
    log_set_fd(STDERR_FILENO);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    assert_int_equal(buf[n - 1], '\n');
    return json_loads(buf, 0, NULL);
}

static void test_log_line_is_json_with_fields(void **state)
{
    (void)state;
    json_t *line = log_one_line(LOG_WARN, "cannot patch pod");

    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(line, "module")), "test");
    assert_string_equal(json_string_value(json_object_get(line, "msg")), "cannot patch pod");
    assert_string_equal(json_string_value(json_object_get(line, "name")), "pool-a");
    assert_int_equal(json_integer_value(json_object_get(line, "http_status")), 409);
    json_decref(line);
}

static void test_log_drops_lines_below_level(void **state)
{
    (void)state;
    log_set_level(LOG_WARN);
    json_t *line = log_one_line(LOG_INFO, "not shown");
    log_set_level(LOG_INFO);
    assert_null(line);
}

static void test_log_level_parse_rejects_unknown(void **state)
{
    (void)state;
    enum log_level level;

    assert_int_equal(log_level_parse("debug", &level), 0);
    assert_int_equal(level, LOG_DEBUG);
    assert_true(log_level_parse("verbose", &level) < 0);
}

static void test_err_wrap_keeps_code(void **state)
{
    (void)state;
    struct err err;

    err_set(&err, -5, "cannot read '%s'", "x");
    assert_int_equal(err_wrap(&err, "opening store"), -5);
    assert_string_equal(err.msg, "opening store: cannot read 'x'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_line_is_json_with_fields),
        cmocka_unit_test(test_log_drops_lines_below_level),
        cmocka_unit_test(test_log_level_parse_rejects_unknown),
        cmocka_unit_test(test_err_wrap_keeps_code),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
